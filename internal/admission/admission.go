// Package admission lets elastic background work (a billing run) give way to the requests a
// process serves, with no number for an operator to tune but the latency the foreground
// should keep.
//
// A Controller hears how long each foreground request took (Observe, fed by the APIs'
// middleware, Foreground) and grants elastic work an allowance: how many of its units (a
// billing run's groups of customers) may run at once. Every Interval it looks at the p99 of
// the foreground requests of that interval: above Target the allowance halves, below half of
// Target it grows by a quarter of a unit, with no foreground request at all by a whole unit,
// and in between it holds (additive increase, multiplicative decrease, as TCP's congestion
// window and CockroachDB's admission control of elastic work do). It never falls below one
// unit at a time (MinAllowance), so elastic work always progresses at a known share of its
// rate; with no foreground traffic it runs at Max, full speed.
//
// It decides how much elastic work runs; internal/background's Gate decides how many of the
// process's processors that work's computing may take at once. Both apply to a billing run.
//
// The controller sees only the requests of its own process: where the query API runs in
// another process, that process's reads do not slow this one's elastic work.
package admission

import (
	"context"
	"errors"
	"math"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dotmac/ledger/internal/quantile"
)

// Defaults and limits of a Controller.
const (
	// DefaultTarget is the foreground p99 elastic work yields to keep in each Interval. It is
	// a fifth of the portal's goal (a query's p99 at most 50 ms over a whole billing run),
	// because the run's p99 is the p99 of its worst intervals: with the goal itself as the
	// target the controller let four groups run while most intervals stayed under it, and the
	// run's p99 was 66.5-69.4 ms against 53.7-59.8 ms with 10 ms (100,000 customers, reads
	// at 200/s, three runs each, 2026-12-05), at the same rate (2,066-2,228 invoices/s),
	// since one group at a time bills nearly as fast as four.
	DefaultTarget = 10 * time.Millisecond
	// DefaultInterval is how often the allowance is reconsidered.
	DefaultInterval = 250 * time.Millisecond
	// MinAllowance is the floor: one unit at a time. A billing run bills one group at a time
	// at about nine tenths of its full rate (one worker against four: 2,435-2,450 against
	// 2,707 invoices/s, 2026-12-05); pacing below it (a tenth of one unit's time, tried first)
	// bought the portal little and cost a bill day its deadline whenever something else
	// slowed the portal (459 invoices/s while another process loaded the host).
	MinAllowance = 1.0
	// maxSamples bounds the foreground latencies kept per interval (16,384 requests/s at
	// DefaultInterval); beyond it a request is not counted.
	maxSamples = 4096
	// decrease is the factor the allowance falls by in an interval whose p99 is over Target.
	decrease = 0.5
	// increase is what the allowance grows by in an interval whose p99 is under half of
	// Target: a unit a second at DefaultInterval, so that probing for more (which ends in an
	// interval over Target) is rare.
	increase = 0.25
	// quietIncrease is what it grows by in an interval with no foreground request at all:
	// nobody to give way to, back to full speed within a second.
	quietIncrease = 1.0
)

// Config configures a Controller.
type Config struct {
	// Max is the allowance at full speed: how many units of elastic work may run at once when
	// the foreground is quiet (required, at least 1).
	Max int
	// Target is the foreground p99 to keep (default DefaultTarget).
	Target time.Duration
	// Interval is how often the allowance is reconsidered (default DefaultInterval).
	Interval time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Registerer receives the controller's metrics (nil: none).
	Registerer prometheus.Registerer
}

func (c *Config) setDefaults() {
	if c.Target <= 0 {
		c.Target = DefaultTarget
	}
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Validate reports a Max below one.
func (c *Config) Validate() error {
	if c.Max < 1 {
		return errors.New("admission: Config.Max must be at least 1")
	}
	return nil
}

// Controller grants elastic work its allowance. It is safe for concurrent use.
type Controller struct {
	cfg     Config
	metrics *metrics

	mu        sync.Mutex
	allowance float64
	running   int
	since     time.Time // start of the current interval
	samples   []time.Duration
	lastP99   time.Duration
	changed   chan struct{} // closed when a unit ends or the allowance changes
}

// New returns a controller at full speed.
func New(cfg Config) (*Controller, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Controller{cfg: cfg, allowance: float64(cfg.Max), since: cfg.Now(), changed: make(chan struct{})}
	m, err := newMetrics(cfg.Registerer, c)
	if err != nil {
		return nil, err
	}
	c.metrics = m
	return c, nil
}

// Observe records a foreground request that took d.
func (c *Controller) Observe(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reconsider(c.cfg.Now())
	if len(c.samples) < maxSamples {
		c.samples = append(c.samples, d)
	}
}

// Allowance is how many units of elastic work may run at once now (its whole part), from
// MinAllowance to Max.
func (c *Controller) Allowance() float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reconsider(c.cfg.Now())
	return c.allowance
}

// Yielding reports whether elastic work runs below full speed now.
func (c *Controller) Yielding() bool { return c.Allowance() < float64(c.cfg.Max) }

// Admit waits until one more unit of elastic work may start and returns the function that
// ends it (call it once, when the unit's work is done). It returns ctx's error, and no
// function, if ctx ends first.
func (c *Controller) Admit(ctx context.Context) (done func(), err error) {
	var waited time.Duration
	for first := true; ; first = false {
		c.mu.Lock()
		now := c.cfg.Now()
		c.reconsider(now)
		if c.running < int(c.allowance) {
			c.running++
			c.mu.Unlock()
			c.metrics.waited(waited)
			return c.ender(), nil
		}
		changed := c.changed
		c.mu.Unlock()
		if err := ctx.Err(); err != nil {
			c.metrics.waited(waited)
			return nil, err
		}
		if first {
			c.metrics.yields.Inc()
		}
		start := c.cfg.Now()
		timer := time.NewTimer(c.cfg.Interval)
		select {
		case <-changed:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
		waited += c.cfg.Now().Sub(start)
	}
}

// ender returns the function ending a unit.
func (c *Controller) ender() func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.running--
			c.reconsider(c.cfg.Now())
			c.signal()
		})
	}
}

// reconsider moves the allowance once an interval has passed since the last time. Hold c.mu.
func (c *Controller) reconsider(now time.Time) {
	elapsed := now.Sub(c.since)
	if elapsed < c.cfg.Interval {
		return
	}
	before := c.allowance
	c.lastP99 = quantile.Of(c.samples, 0.99)
	switch {
	case len(c.samples) == 0:
		// Quiet: every interval gone by without a request counts.
		c.allowance += quietIncrease * float64(elapsed/c.cfg.Interval)
	case c.lastP99 > c.cfg.Target:
		c.allowance *= decrease
	case c.lastP99 < c.cfg.Target/2:
		c.allowance += increase
	}
	c.allowance = math.Min(float64(c.cfg.Max), math.Max(MinAllowance, c.allowance))
	c.samples, c.since = c.samples[:0], now
	if c.allowance != before {
		c.signal()
	}
}

// signal wakes the units waiting in Admit. Hold c.mu.
func (c *Controller) signal() {
	close(c.changed)
	c.changed = make(chan struct{})
}
