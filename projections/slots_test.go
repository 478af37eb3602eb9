package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// gauged is a counter whose Apply (inside its live batch's transaction) counts how many
// gauged projections' batches are applying at once, and keeps the most it saw. With
// together set, each Apply also waits (up to a few seconds) until that many are applying at
// once, and records whether they were.
type gauged struct {
	*counter
	in, most *atomic.Int64
	together int64
	met      *atomic.Bool
}

func (g gauged) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	n := g.in.Add(1)
	defer g.in.Add(-1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	if g.together > 0 && !g.met.Load() {
		deadline := time.Now().Add(5 * time.Second)
		for g.in.Load() < g.together && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if g.in.Load() >= g.together {
			g.met.Store(true)
		}
	}
	time.Sleep(2 * time.Millisecond) // a batch takes a while: room for another to overlap
	return g.counter.Apply(ctx, tx, evs)
}

// gaugedProjections returns three gauged counters sharing one gauge.
func gaugedProjections(together int64) ([]projections.Projection, *atomic.Int64, *atomic.Bool) {
	in, most, met := &atomic.Int64{}, &atomic.Int64{}, &atomic.Bool{}
	var projs []projections.Projection
	for _, name := range []string{"ga", "gb", "gc"} {
		projs = append(projs, gauged{counter: &counter{name: name, version: 1, prefix: name + "_"}, in: in, most: most, together: together, met: met})
	}
	return projs, most, met
}

// TestLiveConcurrencyBoundsTheBatches: with LiveConcurrency 1 the live batches of a
// runtime's projections run their transactions one at a time, and every projection still
// applies every event; without a bound (negative) they run at once (the control: the gauge
// sees three together). The test polls the checkpoints: WaitFor would make the batches
// urgent.
func TestLiveConcurrencyBoundsTheBatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		bound    int
		together int64
	}{{"one at a time", 1, 0}, {"no bound", -1, 3}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			projs, most, met := gaugedProjections(tc.together)
			opts := testOptions()
			opts.LiveConcurrency = tc.bound
			opts.MinBatchInterval = -1
			rt := projectiontest.Start(t, e.pool, e.store, projs, opts)
			running(t, rt, "ga", "gb", "gc")
			appendEvents(t, e.store, 900, 7, nil) // after start: live batches only
			head, err := rt.Head(context.Background())
			require.NoError(t, err)
			for _, name := range []string{"ga", "gb", "gc"} {
				// Polled, not WaitFor: a batch a waiter of the runtime needs does not wait
				// for a turn (TestUrgentBatchesDoNotWaitForATurn).
				eventually(t, 60*time.Second, name+" applied every event", func() bool { return status(t, rt, name).Position == head })
				sameRows(t, e.pool, `SELECT stream_id, events, total FROM `+name+`_stream_counts`, expectedCounts, int64(head))
			}
			if tc.bound > 0 {
				assert.Equal(t, int64(tc.bound), most.Load(), "live batches applying at once")
			} else {
				assert.True(t, met.Load(), "without a bound the three projections' batches apply at once")
			}
		})
	}
}

// TestALiveBatchWaitingForItsLocksHoldsNoSlot: a partition whose lock another transaction
// holds (a swap, or another process) gives its slot back while it waits, so with
// LiveConcurrency 1 the runtime's other projections go on applying; once the lock is free,
// the waiting one catches up.
func TestALiveBatchWaitingForItsLocksHoldsNoSlot(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t)
	blocked := &counter{name: "blocked", version: 1, prefix: "blocked_"}
	free := &counter{name: "free", version: 1, prefix: "free_"}
	opts := testOptions()
	opts.LiveConcurrency = 1
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{blocked, free}, opts)
	running(t, rt, "blocked", "free")

	conn, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	key := projections.PartLockKey(e.app, "blocked", 0)
	_, err = conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, key)
	require.NoError(t, err)

	appendEvents(t, e.store, 300, 5, nil)
	pos, err := rt.Head(ctx)
	require.NoError(t, err)
	// Polled, not WaitFor, which would make free's batches urgent (no turn to wait for).
	eventually(t, 30*time.Second, "free applied every event", func() bool { return status(t, rt, "free").Position == pos })
	assert.Less(t, status(t, rt, "blocked").Position, pos, "blocked cannot apply while its partition's lock is held")

	_, err = conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, key)
	require.NoError(t, err)
	eventually(t, 30*time.Second, "blocked applied every event", func() bool { return status(t, rt, "blocked").Position == pos })
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM blocked_stream_counts`, expectedCounts, int64(pos))
}

// running waits until each projection named runs live (its start's catch-up ended).
func running(t *testing.T, rt *projections.Runtime, names ...string) {
	t.Helper()
	for _, name := range names {
		eventually(t, 30*time.Second, name+" runs live", func() bool { return status(t, rt, name).State == projections.StateRunning })
	}
}

// TestLiveConcurrencyOverTheLimitIsRefused names the option and its limit.
func TestLiveConcurrencyOverTheLimitIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := testOptions()
	opts.LiveConcurrency = 5000
	_, err := projections.New(context.Background(), e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "LiveConcurrency 5000 is over 1024")
}
