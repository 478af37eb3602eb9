package admission_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/admission"
	"github.com/dotmac/ledger/internal/httpx"
)

// clock is a fake clock, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 12, 5, 1, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

const interval = 100 * time.Millisecond

func mustController(t *testing.T, clk *clock, units int) *admission.Controller {
	t.Helper()
	c, err := admission.New(admission.Config{Max: units, Target: 50 * time.Millisecond, Interval: interval, Now: clk.Now})
	require.NoError(t, err)
	return c
}

// interval observes n foreground requests of latency d, then lets the interval end.
func runInterval(c *admission.Controller, clk *clock, n int, d time.Duration) {
	for range n {
		c.Observe(d)
	}
	clk.Advance(interval)
}

func TestAllowanceFollowsForegroundLatency(t *testing.T) {
	t.Parallel()
	type step struct {
		requests int
		latency  time.Duration
		want     float64
	}
	for _, tc := range []struct {
		name  string
		steps []step
	}{
		{"starts at full speed and stays there with no foreground", []step{{0, 0, 4}, {0, 0, 4}}},
		{"fast foreground keeps full speed", []step{{50, 5 * time.Millisecond, 4}}},
		{"slow foreground halves it each interval, never below one unit", []step{
			{50, 80 * time.Millisecond, 2}, {50, 80 * time.Millisecond, 1}, {50, time.Second, 1}, {50, time.Second, 1}}},
		{"between half the target and the target it holds", []step{
			{50, 80 * time.Millisecond, 2}, {50, 40 * time.Millisecond, 2}, {50, 30 * time.Millisecond, 2}}},
		{"fast again: a quarter of a unit more each interval, up to full", []step{
			{50, 80 * time.Millisecond, 2}, {50, 80 * time.Millisecond, 1},
			{50, 10 * time.Millisecond, 1.25}, {50, 10 * time.Millisecond, 1.5}, {50, 10 * time.Millisecond, 1.75},
			{50, 10 * time.Millisecond, 2}, {50, 10 * time.Millisecond, 2.25}, {50, 10 * time.Millisecond, 2.5},
			{50, 10 * time.Millisecond, 2.75}, {50, 10 * time.Millisecond, 3}, {50, 10 * time.Millisecond, 3.25},
			{50, 10 * time.Millisecond, 3.5}, {50, 10 * time.Millisecond, 3.75}, {50, 10 * time.Millisecond, 4},
			{50, 10 * time.Millisecond, 4}}},
		{"quiet again: a unit more each interval, back to full speed", []step{{50, 80 * time.Millisecond, 2}, {0, 0, 3}, {0, 0, 4}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock()
			c := mustController(t, clk, 4)
			assert.InDelta(t, 4.0, c.Allowance(), 1e-9)
			for i, s := range tc.steps {
				runInterval(c, clk, s.requests, s.latency)
				assert.InDelta(t, s.want, c.Allowance(), 1e-9, "after step %d", i)
			}
		})
	}
}

func TestQuietStretchCountsEveryInterval(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 8)
	for range 3 {
		runInterval(c, clk, 50, time.Second)
	}
	require.InDelta(t, 1.0, c.Allowance(), 1e-9)
	clk.Advance(5 * interval) // five intervals with no request at all
	assert.InDelta(t, 6.0, c.Allowance(), 1e-9)
}

func TestAdmitBoundsTheUnitsRunning(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 2)
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	done1, err := c.Admit(ended) // free: admitted even with an ended context
	require.NoError(t, err)
	done2, err := c.Admit(ended)
	require.NoError(t, err)
	_, err = c.Admit(ended)
	require.ErrorIs(t, err, context.Canceled, "a third unit waits")

	runInterval(c, clk, 50, time.Second) // slow foreground: one unit at a time
	require.InDelta(t, 1.0, c.Allowance(), 1e-9)
	done1()
	done1() // a second call does nothing
	_, err = c.Admit(ended)
	require.ErrorIs(t, err, context.Canceled, "one unit runs: no second")
	done2()
	done3, err := c.Admit(ended)
	require.NoError(t, err)
	done3()
}

func TestAdmitWaitsForARelease(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 1)
	done1, err := c.Admit(context.Background())
	require.NoError(t, err)
	got := make(chan func(), 1)
	go func() {
		done, err := c.Admit(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- done
	}()
	done1()
	(<-got)()
}

func TestConfigIsValidated(t *testing.T) {
	t.Parallel()
	_, err := admission.New(admission.Config{})
	require.ErrorContains(t, err, "Config.Max")
}

func TestForegroundMiddlewareFeedsTheController(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 4)
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		clk.Advance(80 * time.Millisecond)
		w.WriteHeader(http.StatusNoContent)
	})
	waiting := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.InfoFrom(r.Context()).WaitsForBackground = true
		clk.Advance(80 * time.Millisecond)
		w.WriteHeader(http.StatusAccepted)
	})
	serve := func(h http.Handler) {
		h = httpx.Observe(httpx.LoggerFrom(context.Background()).With().Logger(), nil, c.Foreground(h))
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	}
	serve(waiting)
	serve(waiting)
	assert.InDelta(t, 4.0, c.Allowance(), 1e-9, "a request waiting for background work is not the foreground's")
	serve(slow)
	serve(slow)
	assert.InDelta(t, 2.0, c.Allowance(), 1e-9)
}

// TestTheTailCountsNotTheMean: 2 slow requests in 100 put the p99 over the target, 1 in 200
// does not.
func TestTheTailCountsNotTheMean(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 4)
	for range 199 {
		c.Observe(time.Millisecond)
	}
	c.Observe(time.Second)
	clk.Advance(interval)
	require.InDelta(t, 4.0, c.Allowance(), 1e-9)
	for range 98 {
		c.Observe(time.Millisecond)
	}
	c.Observe(time.Second)
	c.Observe(time.Second)
	clk.Advance(interval)
	require.InDelta(t, 2.0, c.Allowance(), 1e-9)
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	clk := newClock()
	reg := prometheus.NewRegistry()
	c, err := admission.New(admission.Config{Max: 4, Interval: interval, Now: clk.Now, Registerer: reg})
	require.NoError(t, err)
	runInterval(c, clk, 10, time.Second)
	got := map[string]float64{}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue() + m.GetCounter().GetValue()
	}
	assert.Equal(t, map[string]float64{"dotmac_elastic_allowance": 2, "dotmac_elastic_allowance_max": 4,
		"dotmac_elastic_running": 0, "dotmac_elastic_foreground_p99_seconds": 1, "dotmac_elastic_foreground_target_seconds": admission.DefaultTarget.Seconds(),
		"dotmac_elastic_wait_seconds_total": 0, "dotmac_elastic_yields_total": 0}, got)
}

func TestTheFloorAdmitsOneUnitAtOnce(t *testing.T) {
	t.Parallel()
	clk := newClock()
	c := mustController(t, clk, 4)
	for range 20 {
		runInterval(c, clk, 100, 10*time.Second)
	}
	require.InDelta(t, admission.MinAllowance, c.Allowance(), 1e-9, "a slow foreground halves the allowance down to one unit, not below")
	ended, cancel := context.WithCancel(context.Background())
	cancel()
	for range 3 {
		done, err := c.Admit(ended)
		require.NoError(t, err, "one unit at a time is admitted at once, without a pause")
		_, err = c.Admit(ended)
		require.ErrorIs(t, err, context.Canceled, "a second unit waits")
		runInterval(c, clk, 100, 10*time.Second) // the foreground stays slow
		done()
	}
}
