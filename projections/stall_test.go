package projections_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestStall: a projection that keeps failing on one event stops exactly there: the events
// before it are applied and committed, the state is stalled with the error and the position,
// readiness fails, WaitFor beyond it answers at once, and nothing after it is applied even as
// more events arrive. Once the cause is removed, a restart resumes from the checkpoint.
func TestStall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const poisonAt = 137 // the 137th event, position 137
	var fixed atomic.Bool
	proj := &counter{name: "counter", version: 1, refuse: func() bool { return !fixed.Load() }}
	appendEvents(t, e.store, 300, 5, func(i int) bool { return i == poisonAt-1 })
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, testOptions())

	eventually(t, 20*time.Second, "the projection stalls", func() bool { return status(t, rt, "counter").State == projections.StateStalled })
	appendEvents(t, e.store, 50, 5, nil)
	time.Sleep(200 * time.Millisecond) // the stalled projection must not move on

	st := status(t, rt, "counter")
	require.Equal(t, projections.StateStalled, st.State)
	require.NotNil(t, st.StalledPosition)
	assert.Equal(t, eventstore.Position(poisonAt), *st.StalledPosition)
	assert.Equal(t, eventstore.Position(poisonAt-1), st.Position, "everything before the failing event is applied")
	assert.Contains(t, st.Error, "boom: poisoned event at position 137")
	assert.Equal(t, uint64(350-(poisonAt-1)), st.LagEvents)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(poisonAt-1))

	err := rt.Ready(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "counter stalled at position 137")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	reached, err := rt.WaitFor(ctx, "counter", 200)
	require.ErrorIs(t, err, projections.ErrStalled)
	assert.Equal(t, eventstore.Position(poisonAt-1), reached)
	var se *projections.StalledError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, eventstore.Position(poisonAt), se.Position)
	assert.NoError(t, ctx.Err(), "WaitFor answered at once, not at its deadline")

	fixed.Store(true) // "deploy the fix", then restart
	rt.Stop()
	rt2 := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, testOptions())
	pos := projectiontest.WaitCaughtUp(t, rt2, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(350), pos)
	st = status(t, rt2, "counter")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Empty(t, st.Error)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	require.NoError(t, rt2.Ready(context.Background()))
}

// TestStallOnUndecodableEvent: an event the codec cannot decode stalls the projection at that
// event too, never skipping it.
func TestStallOnUndecodableEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 40, 3, nil)
	_, err := e.store.Append(context.Background(), "s-bad", eventstore.Any(),
		eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: []byte(`{"n":"not a number"}`)})
	require.NoError(t, err)
	appendEvents(t, e.store, 10, 3, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())

	eventually(t, 20*time.Second, "the projection stalls", func() bool { return status(t, rt, "counter").State == projections.StateStalled })
	st := status(t, rt, "counter")
	assert.Equal(t, eventstore.Position(41), *st.StalledPosition)
	assert.Equal(t, eventstore.Position(40), st.Position)
	assert.Contains(t, st.Error, "decode")
}

// TestRebuildRefusesAFailingEvent: a rebuild that meets an event the projection cannot apply
// fails naming that event, drops its partial build, and leaves the live build serving.
func TestRebuildRefusesAFailingEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var refuse atomic.Bool
	proj := &counter{name: "counter", version: 1, refuse: refuse.Load}
	appendEvents(t, e.store, 500, 5, func(i int) bool { return i == 321 })
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	live := status(t, rt, "counter").LiveBuild

	refuse.Store(true)
	_, err := rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{})
	var ae *projections.ApplyError
	require.True(t, errors.As(err, &ae), "got %v", err)
	assert.Equal(t, eventstore.Position(322), ae.First)
	assert.Equal(t, eventstore.Position(322), ae.Last)
	st := status(t, rt, "counter")
	assert.Equal(t, live, st.LiveBuild)
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Empty(t, st.Building)
	var builds int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM projection_builds`).Scan(&builds))
	assert.Equal(t, 1, builds, "the failed build is forgotten")
}

// flaky fails its first attempts with a deadlock, as a database under contention may.
type flaky struct {
	counter
	failures atomic.Int64
}

func (f *flaky) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if f.failures.Add(-1) >= 0 {
		return &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	}
	return f.counter.Apply(ctx, tx, evs)
}

// TestTransientErrorsNeverStall: a projection failing again and again with a transient
// database error (here a deadlock, more often than the retries allow) is retried until it
// passes, never stalled.
func TestTransientErrorsNeverStall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 100, 3, nil)
	f := &flaky{counter: counter{name: "counter", version: 1}}
	f.failures.Store(12)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{f}, testOptions())
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(100), pos)
	assert.Equal(t, projections.StateRunning, status(t, rt, "counter").State)
	assert.Negative(t, f.failures.Load())
}
