package projections_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// appendTenantEvents appends n TestEvents (amounts 1..n, poisoned where poison says) of tenant
// to its streams t-<tenant>/s-0 .. s-2, one event per append so that tenants interleave.
func appendTenantEvents(t testing.TB, store eventstore.Store, tenant string, n int, poison func(i int) bool) {
	t.Helper()
	for i := range n {
		p := testEvent{N: int64(i + 1), Poison: poison != nil && poison(i)}
		_, err := store.Append(context.Background(), fmt.Sprintf("t-%s/s-%d", tenant, i%3), eventstore.Any(),
			eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: mustJSON(p),
				Metadata: eventstore.Metadata{TenantID: tenant}})
		require.NoError(t, err)
	}
}

// interleave appends n events of each tenant, alternating, poisoning acme's i-th where poison says.
func interleave(t testing.TB, store eventstore.Store, n int, poison func(i int) bool) {
	t.Helper()
	for i := range n {
		appendTenantEvents(t, store, "acme", 1, func(int) bool { return poison != nil && poison(i) })
		appendTenantEvents(t, store, "globex", 1, nil)
	}
}

// tenantCounts is expectedCounts for one tenant's streams ($2, a LIKE pattern).
const tenantCounts = `SELECT stream_id, count(*)::bigint, sum((data->>'n')::bigint)::bigint FROM es_events
WHERE position <= $1 AND stream_id LIKE $2 GROUP BY stream_id`

// tenantRows is what the counter holds for one tenant's streams ($2, a LIKE pattern; $1 is
// tenantCounts' position).
const tenantRows = `SELECT stream_id, events, total FROM stream_counts WHERE stream_id LIKE $2 AND $1::bigint >= 0`

func head(t testing.TB, e *env) eventstore.Position {
	t.Helper()
	h, err := e.store.Head(context.Background())
	require.NoError(t, err)
	return h
}

// stallOf returns the status's stall of tenant (nil: none).
func stallOf(st projections.Status, tenant string) *projections.TenantStall {
	for i := range st.StalledTenants {
		if st.StalledTenants[i].Tenant == tenant {
			return &st.StalledTenants[i]
		}
	}
	return nil
}

// gauge reads the one series of the gauge name from reg.
func gauge(t testing.TB, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) == 1 {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return -1
}

// TestTenantStall: a projection that keeps failing on one event of tenant acme stops for acme
// only: the stall (tenant, position, error id, error) is recorded and listed for operators, every
// event of globex, before and after, is applied, the checkpoint reaches the head and readiness
// holds. acme's WaitForTenant answers at once with the error id and nothing of the event;
// globex's waits as usual. A retry that fails again records a new error id; after the fix a
// retry replays acme up to the checkpoint (the rows then equal the events', as a rebuild's),
// the live projector applies acme's new events again, and a second retry does nothing.
func TestTenantStall(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	var fixed atomic.Bool
	proj := &counter{name: "counter", version: 1, refuse: func() bool { return !fixed.Load() }}
	interleave(t, e.store, 150, func(i int) bool { return i == 68 }) // acme's 69th event, position 137
	const poisonAt = 137
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, testOptions())

	eventually(t, 20*time.Second, "acme stalls", func() bool { return status(t, rt, "counter").StalledTenantCount == 1 })
	interleave(t, e.store, 25, nil)
	h := head(t, e)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	st := status(t, rt, "counter")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Equal(t, h, st.Position, "every other tenant's events are applied")
	stall := stallOf(st, "acme")
	require.NotNil(t, stall, "%+v", st.StalledTenants)
	assert.Equal(t, eventstore.Position(poisonAt), stall.Position)
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, stall.ErrorID)
	assert.Contains(t, stall.Error, "boom: poisoned event at position 137")
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(h), "t-globex/%")
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(poisonAt-1), "t-acme/%")
	require.NoError(t, rt.Ready(ctx), "a tenant stall leaves the projection ready")

	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_, err := rt.WaitForTenant(wctx, "counter", "acme", 0)
	var tse *projections.TenantStalledError
	require.ErrorAs(t, err, &tse)
	require.ErrorIs(t, err, projections.ErrStalled)
	assert.Equal(t, stall.ErrorID, tse.ErrorID)
	assert.NotContains(t, err.Error(), "boom")
	assert.NotContains(t, err.Error(), "acme")
	assert.NoError(t, wctx.Err(), "WaitForTenant answered at once, not at its deadline")
	reached, err := rt.WaitForTenant(wctx, "counter", "globex", h)
	require.NoError(t, err)
	assert.Equal(t, h, reached)

	res, err := rt.Retry(ctx, projections.RetryOptions{})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.False(t, res[0].Cleared)
	require.NotNil(t, res[0].Stall)
	assert.Equal(t, eventstore.Position(poisonAt), res[0].Stall.Position)
	assert.NotEqual(t, stall.ErrorID, res[0].Stall.ErrorID, "a retry that fails again records a new error id")
	assert.Equal(t, 1, res[0].Stall.Retries)

	fixed.Store(true)                 // "deploy the fix"
	busy := startAppender(t, e.store) // the live projector applies while the retry runs
	res, err = rt.Retry(ctx, projections.RetryOptions{Projections: []string{"counter"}, Tenants: []string{"acme"}})
	busy.halt()
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.True(t, res[0].Cleared, "%+v", res[0])
	assert.GreaterOrEqual(t, res[0].To, h)
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(head(t, e)), "t-acme/%")
	st = status(t, rt, "counter")
	assert.Zero(t, st.StalledTenantCount)
	_, err = rt.WaitForTenant(ctx, "counter", "acme", h)
	require.NoError(t, err)

	interleave(t, e.store, 10, nil)
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))

	res, err = rt.Retry(ctx, projections.RetryOptions{})
	require.NoError(t, err)
	assert.Empty(t, res, "nothing stalled: nothing to do")
	_, err = rt.Rebuild(ctx, "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	pos = projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
}

// TestStallOnUndecodableEvent: an event the codec cannot decode stalls its tenant at that event,
// never skipping it, while the other tenants' events (and the tenant's before it) are applied;
// the metric of stalled tenants counts it.
func TestStallOnUndecodableEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	interleave(t, e.store, 20, nil)
	_, err := e.store.Append(context.Background(), "t-acme/s-bad", eventstore.Any(),
		eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: []byte(`{"n":"not a number"}`),
			Metadata: eventstore.Metadata{TenantID: "acme"}})
	require.NoError(t, err)
	interleave(t, e.store, 10, nil)
	h := head(t, e)
	opts := testOptions()
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, opts)

	eventually(t, 20*time.Second, "acme stalls", func() bool { return status(t, rt, "counter").StalledTenantCount == 1 })
	eventually(t, 20*time.Second, "the metric counts acme", func() bool {
		return gauge(t, reg, "dotmac_projection_stalled_tenants") == 1
	})
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	st := status(t, rt, "counter")
	stall := stallOf(st, "acme")
	require.NotNil(t, stall)
	assert.Equal(t, eventstore.Position(41), stall.Position)
	assert.Contains(t, stall.Error, "decode")
	assert.Equal(t, h, st.Position)
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(h), "t-globex/%")
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(40), "t-acme/%")
}

// loadingCounter is a counter filled, in rebuilds, through a Load (one that writes at once).
type loadingCounter struct {
	*counter
	failed *atomic.Int64 // batches the Load failed
}

func (c loadingCounter) Tuning() projections.Tuning {
	return projections.Tuning{NewLoad: func() projections.Load { return counterLoad(c) }}
}

type counterLoad loadingCounter

func (l counterLoad) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	err := l.counter.Apply(ctx, tx, evs)
	if err != nil {
		l.failed.Add(1)
	}
	return err
}

func (counterLoad) Flush(context.Context, pgx.Tx) error { return nil }

// TestRebuildStallsTheTenant: a rebuild that meets an event the projection cannot apply stalls
// that event's tenant in the new build, the same way the live projector does, instead of
// failing (through Apply; a projection with a Load, which cannot split a batch, is filled again
// through Apply); the build is swapped in with its stall, which a retry after the fix clears.
func TestRebuildStallsTheTenant(t *testing.T) {
	t.Parallel()
	for _, withLoad := range []bool{false, true} {
		t.Run(fmt.Sprintf("load=%t", withLoad), func(t *testing.T) {
			t.Parallel()
			testRebuildStallsTheTenant(t, withLoad)
		})
	}
}

func testRebuildStallsTheTenant(t *testing.T, withLoad bool) {
	e := newEnv(t)
	ctx := context.Background()
	var refuse atomic.Bool
	c := &counter{name: "counter", version: 1, refuse: refuse.Load}
	var proj projections.Projection = c
	var loadFailed atomic.Int64
	if withLoad {
		proj = loadingCounter{counter: c, failed: &loadFailed}
		defer func() { assert.Positive(t, loadFailed.Load(), "the rebuild went through the Load first") }()
	}
	interleave(t, e.store, 250, func(i int) bool { return i == 160 }) // acme's 161st event, position 321
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{proj}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	live := status(t, rt, "counter").LiveBuild

	refuse.Store(true)
	p, err := rt.Rebuild(ctx, "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	assert.Equal(t, 1, p.StalledTenants)
	st := status(t, rt, "counter")
	assert.NotEqual(t, live, st.LiveBuild)
	assert.Equal(t, p.Build, st.LiveBuild)
	assert.Equal(t, projections.StateRunning, st.State)
	stall := stallOf(st, "acme")
	require.NotNil(t, stall, "the stall is the new build's, swapped in with it")
	assert.Equal(t, eventstore.Position(321), stall.Position)
	assert.Equal(t, p.Build, stall.Build)
	h := head(t, e)
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(h), "t-globex/%")
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(320), "t-acme/%")

	refuse.Store(false)
	res, err := rt.Retry(ctx, projections.RetryOptions{Tenants: []string{"acme"}})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.True(t, res[0].Cleared)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(h))
}

// flaky fails its first attempts with a deadlock, as a database under contention may (or
// with code, when set).
type flaky struct {
	counter
	failures atomic.Int64
	code     string
}

func (f *flaky) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if f.failures.Add(-1) >= 0 {
		if f.code != "" {
			return &pgconn.PgError{Code: f.code, Message: "injected"}
		}
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
	st := status(t, rt, "counter")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Zero(t, st.StalledTenantCount, "a transient error never stalls a tenant")
	assert.Negative(t, f.failures.Load())
}

// TestReadOnlyDatabaseNeverStalls: a database that turned read-only (a failover in progress:
// 25006) passes by itself like the other outages; it never stalls a projection.
func TestReadOnlyDatabaseNeverStalls(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 50, 3, nil)
	f := &flaky{counter: counter{name: "counter", version: 1}, code: "25006"}
	f.failures.Store(12)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{f}, testOptions())
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(50), pos)
	st := status(t, rt, "counter")
	assert.Equal(t, projections.StateRunning, st.State)
	assert.Zero(t, st.StalledTenantCount, "a read-only database never stalls a tenant")
}

// isolatedFlaky refuses poisoned events and, the first times it is given one event alone (as the
// search for the failing event does), fails with a deadlock.
type isolatedFlaky struct {
	counter
	deadlocks atomic.Int64
}

func (f *isolatedFlaky) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if len(evs) == 1 && f.deadlocks.Add(-1) >= 0 {
		return &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}
	}
	return f.counter.Apply(ctx, tx, evs)
}

// TestTransientErrorsNeverStallATenant: a transient error met while looking for the event that
// fails (in a catch-up replay, then on the live path) is retried, never recorded as a stall: the
// only stall is the poisoned event's tenant's, with Apply's error, and no other tenant stalls.
func TestTransientErrorsNeverStallATenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	interleave(t, e.store, 40, func(i int) bool { return i == 10 }) // acme's 11th event, position 21
	f := &isolatedFlaky{counter: counter{name: "counter", version: 1, refuse: func() bool { return true }}}
	f.deadlocks.Store(6)
	opts := testOptions()
	opts.CatchUpEvents = 10 // the start catches up by a replay, which isolates at once
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{f}, opts)

	eventually(t, 30*time.Second, "acme stalls", func() bool { return status(t, rt, "counter").StalledTenantCount > 0 })
	h := head(t, e)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	st := status(t, rt, "counter")
	require.Len(t, st.StalledTenants, 1, "%+v", st.StalledTenants)
	assert.Equal(t, "acme", st.StalledTenants[0].Tenant)
	assert.Equal(t, eventstore.Position(21), st.StalledTenants[0].Position)
	assert.Contains(t, st.StalledTenants[0].Error, "boom")
	assert.NotContains(t, st.StalledTenants[0].Error, "deadlock")
	assert.Negative(t, f.deadlocks.Load(), "the search met every deadlock")
	sameRows(t, e.pool, tenantRows, tenantCounts, int64(h), "t-globex/%")
}

// TestNoTenantStallConcernsEveryTenant: an event naming no tenant that stalls is recorded under
// tenant "", and every tenant's WaitForTenant reports it (such an event may touch any tenant's
// rows), while WaitFor, which ignores tenant stalls, does not.
func TestNoTenantStallConcernsEveryTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	interleave(t, e.store, 5, nil)
	_, err := e.store.Append(ctx, "t-none/s-bad", eventstore.Any(),
		eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: []byte(`{"n":"not a number"}`)})
	require.NoError(t, err)
	interleave(t, e.store, 5, nil)
	h := head(t, e)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())

	eventually(t, 20*time.Second, "the no-tenant events stall", func() bool { return status(t, rt, "counter").StalledTenantCount == 1 })
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	stall := stallOf(status(t, rt, "counter"), "")
	require.NotNil(t, stall)
	for _, tenant := range []string{"acme", "globex", ""} {
		_, err := rt.WaitForTenant(ctx, "counter", tenant, h)
		var tse *projections.TenantStalledError
		require.ErrorAs(t, err, &tse, "tenant %q", tenant)
		assert.Equal(t, stall.ErrorID, tse.ErrorID, "tenant %q", tenant)
	}
	reached, err := rt.WaitFor(ctx, "counter", h)
	require.NoError(t, err)
	assert.Equal(t, h, reached)
}
