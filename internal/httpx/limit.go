package httpx

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of a Limiter.
const (
	// DefaultMaxInFlight is how many requests an API serves at once unless configured. Far
	// above what the database pools can run together (tens of connections), so a busy portal
	// only ever waits here when the process is already past what it can serve.
	DefaultMaxInFlight = 256
	// DefaultQueueWait is how long a request beyond the limit waits for a slot before it is
	// answered 503.
	DefaultQueueWait = time.Second
	// DefaultMaxQueued is how many requests beyond the limit may wait for a slot at once. The
	// wait alone let a query API offered 1,000 reads a second more than it served hold 1,326
	// of them waiting (a goroutine, its stack and its connection's buffers each), on top of
	// the 256 it served; the requests beyond a queue as long as the in-flight limit would
	// wait out most of the second anyway.
	DefaultMaxQueued = DefaultMaxInFlight
)

// Limits are a Limiter's bounds.
type Limits struct {
	// MaxInFlight is how many requests the API serves at once (< 1: no limit, and no queue).
	MaxInFlight int
	// MaxQueued is how many requests beyond MaxInFlight may wait for a slot at once; one
	// beyond them is answered 503 at once (< 1: as many as come within QueueWait).
	MaxQueued int
	// QueueWait is how long a request waits for a slot before it is answered 503 (0: none
	// waits).
	QueueWait time.Duration
}

// Limiter bounds how many requests an API serves at once. A request beyond the limit waits
// up to the queue wait for one to finish, and is answered 503 with Retry-After if none does,
// or at once when the queue already holds its most requests:
// so a process offered more than it can serve sheds the excess at once, with an answer a
// client can act on, instead of taking every request in and answering them all too late.
//
// Unbounded, a query API offered 1,000 reads a second that it served more slowly than they
// came held 19,600 goroutines and their connections' buffers (490 MB of RSS against a
// 200 MiB heap limit), its reads waiting seconds each (p50 3.8 s, some 35 s), while the
// billing run it shared the cores with crawled. The probes (/healthz, /readyz) and /metrics are never
// limited: an orchestrator must see a busy process as alive.
type Limiter struct {
	api       string
	slots     chan struct{}
	wait      time.Duration
	maxQueued int64
	queued    atomic.Int64
	shed      prometheus.Counter
	inFlight  prometheus.Gauge
}

// NewLimiter returns the limiter of the API named api, within limits; its metrics register on
// reg.
func NewLimiter(reg prometheus.Registerer, api string, limits Limits) *Limiter {
	l := &Limiter{api: api, wait: limits.QueueWait, maxQueued: int64(limits.MaxQueued),
		shed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dotmac_http_shed_total", Help: "Requests answered 503 because the API was serving its limit of requests at once and none finished within the queue wait, or the queue was full.",
			ConstLabels: prometheus.Labels{"api": api},
		}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "dotmac_http_in_flight_requests", Help: "Requests the API is serving (the probes and /metrics left out).",
			ConstLabels: prometheus.Labels{"api": api},
		}),
	}
	if limits.MaxInFlight > 0 {
		l.slots = make(chan struct{}, limits.MaxInFlight)
	}
	waiting := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "dotmac_http_queued_requests", Help: "Requests waiting for one of the API's in-flight slots.",
		ConstLabels: prometheus.Labels{"api": api},
	}, func() float64 { return float64(l.queued.Load()) })
	reg.MustRegister(l.shed, waiting, l.inFlight)
	return l
}

// Wrap limits next (see Limiter), and counts the requests it serves.
func (l *Limiter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case LivePath, ReadyPath, MetricsPath:
			next.ServeHTTP(w, r)
			return
		}
		if l.slots != nil {
			if ok, full := l.acquire(r); !ok {
				l.shed.Inc()
				info := InfoFrom(r.Context())
				info.Route, info.Shed = shedRoute, true
				WriteProblem(w, r, l.busy(full))
				return
			}
			defer func() { <-l.slots }()
		}
		l.inFlight.Inc()
		defer l.inFlight.Dec()
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot, waiting at most l.wait (or until the client goes away) if the queue
// has room; full says the queue had none.
func (l *Limiter) acquire(r *http.Request) (ok, full bool) {
	select {
	case l.slots <- struct{}{}:
		return true, false
	default:
	}
	if l.wait <= 0 {
		return false, false
	}
	if n := l.queued.Add(1); l.maxQueued > 0 && n > l.maxQueued {
		l.queued.Add(-1)
		return false, true
	}
	defer l.queued.Add(-1)
	t := time.NewTimer(l.wait)
	defer t.Stop()
	select {
	case l.slots <- struct{}{}:
		return true, false
	case <-t.C:
		return false, false
	case <-r.Context().Done():
		return false, false
	}
}

// busy is the 503 a shed request gets: full when the queue was full, else its wait ran out.
func (l *Limiter) busy(full bool) *Problem {
	detail := fmt.Sprintf("the %s API is serving its limit of %d requests at once and none finished within %s: retry later",
		l.api, cap(l.slots), l.wait)
	if full {
		detail = fmt.Sprintf("the %s API is serving its limit of %d requests at once and %d more are waiting for them: retry later",
			l.api, cap(l.slots), l.maxQueued)
	}
	p := Unavailable(detail, retryBusy)
	p.Type, p.Title = "/problems/busy", "Server busy"
	p.Extensions = map[string]any{"max_in_flight": cap(l.slots)}
	if full {
		p.Extensions["max_queued"] = l.maxQueued
	}
	return p
}

// shedRoute is the route label of a request shed before it was routed.
const shedRoute = "shed"

// retryBusy is the Retry-After of a shed request.
const retryBusy = time.Second
