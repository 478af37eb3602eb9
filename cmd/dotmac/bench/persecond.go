package bench

import (
	"time"

	"github.com/dotmac/ledger/internal/quantile"
)

// perSecond keeps the latencies of a load's requests by the second they were sent in,
// counted from the first: a run's p99 says how slow its slowest percent was, not whether it
// was slow all along or in a few bad seconds.
type perSecond struct {
	first time.Time
	by    [][]time.Duration
}

// add records a request sent at sent that took latency. Results arrive in the order they
// end: one sent before the first to arrive counts in the first second.
func (p *perSecond) add(sent time.Time, latency time.Duration) {
	if p.first.IsZero() {
		p.first = sent
	}
	i := max(0, int(sent.Sub(p.first)/time.Second))
	for len(p.by) <= i {
		p.by = append(p.by, nil)
	}
	p.by[i] = append(p.by[i], latency)
}

// seconds summarizes the seconds with requests: how many there were, how many had a p99 over
// target, and the p99 of the worst.
func (p *perSecond) seconds(target time.Duration) (seconds, over int, worst time.Duration) {
	for _, l := range p.by {
		if len(l) == 0 {
			continue
		}
		p99 := quantile.Of(l, 0.99)
		seconds++
		if p99 > target {
			over++
		}
		worst = max(worst, p99)
	}
	return seconds, over, worst
}

// p99s returns each second's p99 in milliseconds, nil for a second without requests.
func (p *perSecond) p99s() []*float64 {
	out := make([]*float64, len(p.by))
	for i, l := range p.by {
		if len(l) > 0 {
			v := ms(quantile.Of(l, 0.99))
			out[i] = &v
		}
	}
	return out
}
