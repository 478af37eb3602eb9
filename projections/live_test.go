package projections_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestLiveProjection: a started runtime creates the first build and its views, and the live
// projector applies every event, in batches, to exactly the rows SQL computes from es_events.
func TestLiveProjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 700, 7, nil) // before start: the projector catches up
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	appendEvents(t, e.store, 900, 7, nil) // after start: live
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(1600), pos)

	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	st := status(t, rt, "counter")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, 1, st.Version)
	assert.Equal(t, pos, st.Position)
	assert.Zero(t, st.LagEvents)
	assert.Contains(t, st.LiveBuild, e.app+"__counter_b")
	require.NoError(t, rt.Ready(context.Background()))
}

// TestCatchUpReplay: a live build far behind the head is caught up by a replay (large
// transactions, reading es_events directly) before the live projector takes over.
func TestCatchUpReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 5000, 11, nil)
	opts := testOptions()
	opts.CatchUpEvents, opts.ReplayBatchEvents, opts.ReplayPageEvents = 100, 1500, 700
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, opts)
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	var applied int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applied`).Scan(&applied))
	assert.Equal(t, 5000, applied)
}

// TestInterruptedProjection: the projector is killed at random points many times while
// events are appended (its context cancelled, or its database sessions terminated under it);
// after a last run the rows equal a clean rebuild (EXCEPT both ways empty), every position
// was applied exactly once (applied's primary key would have stalled it otherwise), and the
// checkpoint is the head.
func TestInterruptedProjection(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	projs := func() []projections.Projection {
		return []projections.Projection{&counter{name: "counter", version: 1}}
	}
	a := startAppender(t, e.store)
	for i := range 30 {
		appName := fmt.Sprintf("proj-interrupt-%d-%s", i, e.app)
		pool, store := e.process(t, appName[:min(len(appName), 60)])
		opts := testOptions()
		opts.LiveBatchEvents = 1 + rand.IntN(60)
		if i%3 == 0 {
			opts.CatchUpEvents, opts.ReplayBatchEvents, opts.ReplayPageEvents = 50, 300, 128 // through the catch-up replay
		}
		rt, err := projections.New(context.Background(), pool, store, projs(), opts)
		require.NoError(t, err)
		require.NoError(t, rt.Start(context.Background()))
		time.Sleep(time.Duration(rand.IntN(60)) * time.Millisecond)
		if i%2 == 1 {
			_, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1`, appName[:min(len(appName), 60)])
			require.NoError(t, err)
		}
		rt.Stop()
		pool.Close()
	}
	a.halt()
	require.Positive(t, a.n.Load())

	rt := projectiontest.Start(t, e.pool, e.store, projs(), testOptions())
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 60*time.Second)
	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	require.Equal(t, head, pos, "the checkpoint is the head")
	// The checkpoint reaches the head before the catch-up marks itself done: wait for it to
	// leave catching_up, then it must be running, never stalled.
	var st projections.Status
	eventually(t, 30*time.Second, "the catch-up ends", func() bool {
		st = status(t, rt, "counter")
		return st.State != projections.StateCatchingUp
	})
	require.Equal(t, projections.StateRunning, st.State, "never stalled: %s", st.Error)

	clean := e.app + "_clean"
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{Into: clean})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+clean+` CASCADE`) })
	sameRows(t, e.pool, `SELECT * FROM stream_counts`, `SELECT * FROM `+qualify(clean, "stream_counts"))
	sameRows(t, e.pool, `SELECT * FROM applied`, `SELECT * FROM `+qualify(clean, "applied"))
	var n int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applied`).Scan(&n))
	require.Equal(t, int64(head), n, "every position applied once")
}

// TestTwoRuntimesNeverDoubleApply: two projector processes on one schema run the same
// projection while events flow; the advisory lock and the checkpoint read under it make each
// event applied exactly once (a second apply would break applied's primary key and stall).
func TestTwoRuntimesNeverDoubleApply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	poolB, storeB := e.process(t, "proj-two-b")
	optsA, optsB := testOptions(), testOptions()
	optsA.LiveBatchEvents, optsB.LiveBatchEvents = 17, 29
	rtA := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, optsA)
	rtB := projectiontest.Start(t, poolB, storeB, []projections.Projection{&counter{name: "counter", version: 1}}, optsB)
	a := startAppender(t, e.store)
	time.Sleep(1500 * time.Millisecond)
	a.halt()
	pos := projectiontest.WaitCaughtUp(t, rtA, "counter", 60*time.Second)
	projectiontest.WaitCaughtUp(t, rtB, "counter", 60*time.Second)

	for _, rt := range []*projections.Runtime{rtA, rtB} {
		st := status(t, rt, "counter")
		require.Equal(t, projections.StateRunning, st.State, "never stalled: %s", st.Error)
	}
	var n int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applied`).Scan(&n))
	require.Equal(t, int64(pos), n)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
}

// poisonOnly counts only poisoned events (Tuning.Handles): the runtime passes it nothing
// else, yet its checkpoint follows the head.
type poisonOnly struct{ counter }

func (*poisonOnly) Tuning() projections.Tuning {
	return projections.Tuning{Handles: []string{"Poison"}}
}

// TestEventFilter: a projection whose Tuning lists the types it handles gets only the types it handles (other
// types are not even decoded: the test decoder refuses them), live and in a rebuild, and its
// checkpoint still advances over every event.
func TestEventFilter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 300, 3, nil)
	poison := make([]eventstore.EventData, 7)
	for i := range poison {
		poison[i] = eventstore.EventData{ID: uuid.New(), Type: "Poison", SchemaVersion: 1, Data: []byte(`{"n":1}`)}
	}
	_, err := e.store.Append(context.Background(), "p-1", eventstore.Any(), poison...)
	require.NoError(t, err)
	appendEvents(t, e.store, 300, 3, nil)
	opts := testOptions()
	opts.Decode = func(env *eventstore.Envelope) (domain.Event, error) {
		if env.Type != "Poison" {
			return nil, fmt.Errorf("decoded %s, which the filter excludes", env.Type)
		}
		return testEvent{N: 1}, nil
	}
	proj := &poisonOnly{counter{name: "poison", version: 1}}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, opts)
	pos := projectiontest.WaitCaughtUp(t, rt, "poison", 30*time.Second)
	assert.Equal(t, eventstore.Position(607), pos)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, `VALUES ('p-1', 7::bigint, 7::bigint)`)
	p, err := rt.Rebuild(context.Background(), "poison", projections.RebuildOptions{})
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(607), p.Position)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, `VALUES ('p-1', 7::bigint, 7::bigint)`)
}

// syncRecorder is a counter that records the synchronous_commit of every transaction Apply
// runs in.
type syncRecorder struct {
	counter
	mu   sync.Mutex
	seen map[string]int
}

func (s *syncRecorder) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	var v string
	if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
		return err
	}
	s.mu.Lock()
	s.seen[v]++
	s.mu.Unlock()
	return s.counter.Apply(ctx, tx, evs)
}

// TestLiveBatchesDoNotWaitForTheFlush: a live batch commits with synchronous_commit off (its
// rows and checkpoint are lost together or not at all), so it costs no WAL flush of its own.
func TestLiveBatchesDoNotWaitForTheFlush(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := &syncRecorder{counter: counter{name: "counter", version: 1}, seen: map[string]int{}}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{p}, testOptions())
	appendEvents(t, e.store, 200, 7, nil) // after start: applied live
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(200), pos)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	p.mu.Lock()
	defer p.mu.Unlock()
	assert.NotZero(t, p.seen["off"])
	assert.Zero(t, p.seen["on"], "live batches waiting for the flush: %v", p.seen)
}
