package db_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestPoolMetrics: the collector reports each pool's connections by state and its maximum,
// and an acquire that found every connection taken is counted with the time it waited.
func TestPoolMetrics(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, pgtest.SchemaURL(t), db.Options{MaxConns: 1})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	c := db.NewPoolCollector()
	c.Add("main", pool)
	c.Add("again", pool) // the same pool once
	c.Add("none", nil)
	reg := prometheus.NewRegistry()
	require.NoError(t, reg.Register(c))

	held, err := pool.Acquire(ctx)
	require.NoError(t, err)
	started, got := make(chan struct{}), make(chan error, 1)
	go func() {
		close(started)
		conn, err := pool.Acquire(ctx) // waits for held
		if err == nil {
			conn.Release()
		}
		got <- err
	}()
	<-started
	time.Sleep(100 * time.Millisecond) // the second acquire is waiting
	assert.Equal(t, []string{"main"}, poolsOf(t, reg), "one pool, under its first name; nil skipped")
	assert.Equal(t, 1.0, value(t, reg, "dotmac_db_pool_connections", "main", "acquired"))
	assert.Equal(t, 0.0, value(t, reg, "dotmac_db_pool_connections", "main", "idle"))
	assert.Equal(t, 1.0, value(t, reg, "dotmac_db_pool_max_connections", "main"))
	held.Release()
	require.NoError(t, <-got)

	assert.GreaterOrEqual(t, value(t, reg, "dotmac_db_pool_acquires_waited_total", "main"), 1.0, "the second acquire waited")
	assert.GreaterOrEqual(t, value(t, reg, "dotmac_db_pool_acquire_wait_seconds_total", "main"), 0.05, "for about 100 ms")
	assert.GreaterOrEqual(t, value(t, reg, "dotmac_db_pool_acquires_total", "main"), 2.0)
	assert.Equal(t, 1.0, value(t, reg, "dotmac_db_pool_connections", "main", "idle"))
}

// poolsOf lists the pool labels of dotmac_db_pool_max_connections in reg.
func poolsOf(t *testing.T, reg *prometheus.Registry) []string {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var out []string
	for _, mf := range mfs {
		if mf.GetName() == "dotmac_db_pool_max_connections" {
			for _, m := range mf.GetMetric() {
				out = append(out, m.GetLabel()[0].GetValue())
			}
		}
	}
	return out
}

// value gathers the sample of name from reg whose label values are labels (pool, then state
// or reason), in the order the metric declares them; it fails when there is none, or more.
func value(t *testing.T, reg *prometheus.Registry, name string, labels ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var found []float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			for i, l := range m.GetLabel() {
				// Gather sorts labels by name: pool comes before reason and state.
				if i >= len(labels) || l.GetValue() != labels[i] {
					continue metrics
				}
			}
			if m.GetGauge() != nil {
				found = append(found, m.GetGauge().GetValue())
			} else {
				found = append(found, m.GetCounter().GetValue())
			}
		}
	}
	require.Len(t, found, 1, "%s%v", name, labels)
	return found[0]
}

// TestMinConnsAreOpenedAtOnce: a pool with MinConns opens them without being asked for a
// connection (Open's ping may open one of its own before them), and no more.
func TestMinConnsAreOpenedAtOnce(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, pgtest.SchemaURL(t), db.Options{MaxConns: 5, MinConns: 3})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Eventually(t, func() bool { return pool.Stat().TotalConns() >= 3 }, 20*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	assert.LessOrEqual(t, pool.Stat().TotalConns(), int32(4))
}
