package projections_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestRebuildShadowSwap: a rebuild fills a shadow build while events keep coming and queries
// keep reading the views; it swaps atomically: the readers never see an error nor an empty or
// partial table, they read the new build after the swap, the old build is dropped, and the
// rebuilt rows equal what the live build held.
func TestRebuildShadowSwap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 3000, 13, nil)
	opts := testOptions()
	opts.ReplayBatchEvents, opts.ReplayPageEvents, opts.SwapMaxLag = 400, 250, 50
	slow := &counter{name: "counter", version: 1}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{slow}, opts)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	before := status(t, rt, "counter")

	ctx, stopReaders := context.WithCancel(context.Background())
	var reads atomic.Int64
	var readErr atomic.Value
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var events int64
				err := e.pool.QueryRow(ctx, `SELECT coalesce(sum(events), 0) FROM stream_counts`).Scan(&events)
				switch {
				case err != nil && ctx.Err() == nil:
					readErr.Store(err)
				case err == nil && events < 3000:
					readErr.Store(assert.AnError) // a partial or empty table served
				}
				reads.Add(1)
			}
		}()
	}
	a := startAppender(t, e.store)
	slow.slow.Store(int64(5 * time.Millisecond)) // a rebuild long enough to overlap reads and appends
	var phases []string
	var mu sync.Mutex
	p, err := rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{Progress: func(p projections.Progress) {
		mu.Lock()
		defer mu.Unlock()
		if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
			phases = append(phases, p.Phase)
		}
	}})
	slow.slow.Store(0)
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond) // readers on the new build
	a.halt()
	stopReaders()
	wg.Wait()
	require.Nil(t, readErr.Load(), "a reader failed during the rebuild")
	require.Greater(t, reads.Load(), int64(10))

	assert.Equal(t, projections.PhaseDone, p.Phase)
	assert.Contains(t, phases, projections.PhaseReplaying)
	assert.Contains(t, phases, projections.PhaseSwapping)
	after := status(t, rt, "counter")
	assert.NotEqual(t, before.LiveBuild, after.LiveBuild)
	assert.Equal(t, p.Build, after.LiveBuild)
	assert.Equal(t, projections.StateRunning, after.State)
	assert.Empty(t, after.Building)
	var def string
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT definition FROM pg_views WHERE schemaname = current_schema() AND viewname = 'stream_counts'`).Scan(&def))
	assert.Contains(t, def, after.LiveBuild, "the view reads the new build")
	var analyzed bool
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_stats
		WHERE schemaname = $1 AND tablename = 'stream_counts')`, after.LiveBuild).Scan(&analyzed))
	assert.True(t, analyzed, "the rebuilt tables were analyzed before the swap")
	var oldExists bool
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, before.LiveBuild).Scan(&oldExists))
	assert.False(t, oldExists, "the old build is dropped")

	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	var n int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM applied`).Scan(&n))
	assert.Equal(t, int64(pos), n)
}

// TestRebuildMatchesLive: a rebuilt build holds exactly the rows of the live build it
// replaces (compared table by table, EXCEPT both ways).
func TestRebuildMatchesLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 2000, 9, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	live := status(t, rt, "counter").LiveBuild
	_, err := e.pool.Exec(context.Background(), `CREATE TABLE snapshot_counts AS SELECT * FROM stream_counts; CREATE TABLE snapshot_applied AS SELECT * FROM applied`)
	require.NoError(t, err)

	p, err := rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	require.NotEqual(t, live, p.Build)
	sameRows(t, e.pool, `SELECT * FROM snapshot_counts`, `SELECT * FROM `+qualify(p.Build, "stream_counts"))
	sameRows(t, e.pool, `SELECT * FROM snapshot_applied`, `SELECT * FROM `+qualify(p.Build, "applied"))
	assert.Equal(t, eventstore.Position(2000), p.Position)
}

// TestVersionBumpRebuilds: starting a binary whose projection has a new version rebuilds it
// in the background, with the old build serving until the swap; the views then have the new
// version's shape.
func TestVersionBumpRebuilds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 1500, 6, nil)
	rt1 := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt1, "counter", 30*time.Second)
	v1 := status(t, rt1, "counter").LiveBuild
	rt1.Stop()

	rt2 := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 2}}, testOptions())
	eventually(t, 30*time.Second, "version 2 is live", func() bool { return status(t, rt2, "counter").Version == 2 })
	appendEvents(t, e.store, 100, 6, nil)
	pos := projectiontest.WaitCaughtUp(t, rt2, "counter", 30*time.Second)
	st := status(t, rt2, "counter")
	assert.NotEqual(t, v1, st.LiveBuild)
	assert.Equal(t, 2, st.CodeVersion)
	assert.Equal(t, projections.StateRunning, st.State)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	var bad int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM stream_counts WHERE doubled <> 2 * total`).Scan(&bad))
	assert.Zero(t, bad, "the view has version 2's column, filled")
}

// TestAsOf: a copy built up to a position, or up to a date (the last position recorded at or
// before it), holds exactly the rows of a clean build stopped there, and leaves the live
// build alone.
func TestAsOf(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 600, 8, nil)
	time.Sleep(30 * time.Millisecond)
	cut := time.Now()
	time.Sleep(30 * time.Millisecond)
	appendEvents(t, e.store, 400, 8, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	live := status(t, rt, "counter")

	byPos, byDate := e.app+"_at_pos", e.app+"_at_date"
	t.Cleanup(func() {
		_, _ = e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+byPos+` CASCADE; DROP SCHEMA IF EXISTS `+byDate+` CASCADE`)
	})
	p, err := rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 450}, Into: byPos})
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(450), p.Position)
	assert.Equal(t, "as_of", p.Purpose)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM `+qualify(byPos, "stream_counts"), expectedCounts, int64(450))

	asOf, err := projections.ParseAsOf(cut.UTC().Format(time.RFC3339Nano))
	require.NoError(t, err)
	p, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &asOf, Into: byDate})
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(600), p.Position)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM `+qualify(byDate, "stream_counts"), expectedCounts, int64(600))

	after := status(t, rt, "counter")
	assert.Equal(t, live.LiveBuild, after.LiveBuild, "the live build is untouched")
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(1000))

	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 5}})
	require.ErrorIs(t, err, projections.ErrInvalidRebuild, "as-of needs --into")
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{Into: byPos})
	require.ErrorIs(t, err, projections.ErrInvalidRebuild, "an existing schema is never overwritten")
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 5000}, Into: e.app + "_x"})
	require.ErrorIs(t, err, projections.ErrInvalidRebuild, "beyond the head")
	_, err = rt.Rebuild(context.Background(), "nope", projections.RebuildOptions{})
	require.ErrorIs(t, err, projections.ErrUnknownProjection)
}

func TestParseAsOf(t *testing.T) {
	t.Parallel()
	endOfMarch := time.Date(2026, 3, 31, 23, 59, 59, 999_999_000, time.UTC)
	for _, tc := range []struct {
		in, by string
		want   projections.AsOf
		bad    bool
	}{
		{in: "12345", want: projections.AsOf{Position: 12345}},
		{in: "2026-03-31", want: projections.AsOf{Business: domain.DateOf(endOfMarch)}},
		{in: "2026-03-31", by: "business", want: projections.AsOf{Business: domain.DateOf(endOfMarch)}},
		{in: "2026-03-31", by: "recorded", want: projections.AsOf{Time: endOfMarch}},
		{in: "2026-03-31T18:00:00Z", want: projections.AsOf{Time: time.Date(2026, 3, 31, 18, 0, 0, 0, time.UTC)}},
		{in: "12345", by: "recorded", bad: true},
		{in: "12345", by: "business", bad: true},
		{in: "2026-03-31T18:00:00Z", by: "business", bad: true},
		{in: "2026-03-31", by: "effective", bad: true},
		{in: "2026-02-30", bad: true},
		{in: "yesterday", bad: true},
	} {
		a, err := projections.ParseAsOfBy(tc.in, tc.by)
		if tc.bad {
			require.ErrorIs(t, err, projections.ErrInvalidRebuild, "%s by %q", tc.in, tc.by)
			continue
		}
		require.NoError(t, err, "%s by %q", tc.in, tc.by)
		assert.True(t, tc.want.Time.Equal(a.Time), "%s by %q", tc.in, tc.by)
		tc.want.Time, a.Time = time.Time{}, time.Time{}
		assert.Equal(t, tc.want, a, "%s by %q", tc.in, tc.by)
	}
	a, err := projections.ParseAsOf("2026-03-31T18:00:00+02:00")
	require.NoError(t, err)
	assert.True(t, a.Time.Equal(time.Date(2026, 3, 31, 16, 0, 0, 0, time.UTC)))
}

// TestAsOfRefusals: a business-date copy of a projection that does not go by business date is
// refused; a copy that folds no event is ErrEmptyCopy and leaves no schema behind.
func TestAsOfRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 50, 4, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	business, err := projections.ParseAsOf("2026-03-31")
	require.NoError(t, err)
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &business, Into: e.app + "_biz"})
	require.ErrorIs(t, err, projections.ErrInvalidRebuild)
	assert.ErrorContains(t, err, "--as-of-by recorded")
	assert.ErrorContains(t, err, "dotmac audit as-of --date")

	empty := e.app + "_empty"
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 0}, Into: empty})
	require.ErrorIs(t, err, projections.ErrEmptyCopy)
	var n int
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM pg_namespace WHERE nspname = $1`, empty).Scan(&n))
	assert.Zero(t, n, "the empty copy's schema is dropped")
}

// TestRebuildMany: several projections rebuilt in one replay (each event read and decoded
// once) each end with the rows SQL computes, and each is swapped in; two projections may not
// list the same table.
func TestRebuildMany(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 2500, 9, nil)
	a, b := &counter{name: "a", version: 1, prefix: "a_"}, &counter{name: "b", version: 1, prefix: "b_"}
	var decoded atomic.Int64
	opts := testOptions()
	opts.Decode = func(env *eventstore.Envelope) (domain.Event, error) {
		decoded.Add(1)
		return decodeTest(env)
	}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{a, b}, opts)
	projectiontest.WaitCaughtUp(t, rt, "a", 30*time.Second)
	projectiontest.WaitCaughtUp(t, rt, "b", 30*time.Second)
	before := [2]string{status(t, rt, "a").LiveBuild, status(t, rt, "b").LiveBuild}

	decoded.Store(0)
	ps, err := rt.RebuildMany(context.Background(), []string{"a", "b"}, projections.RebuildOptions{})
	require.NoError(t, err)
	require.Len(t, ps, 2)
	assert.LessOrEqual(t, decoded.Load(), int64(2500+100), "each event decoded once for both builds")
	for i, name := range []string{"a", "b"} {
		st := status(t, rt, name)
		assert.Equal(t, ps[i].Build, st.LiveBuild)
		assert.NotEqual(t, before[i], st.LiveBuild)
		sameRows(t, e.pool, `SELECT stream_id, events, total FROM `+name+`_stream_counts`, expectedCounts, int64(st.Position))
	}

	_, err = projections.New(context.Background(), e.pool, e.store, []projections.Projection{&counter{name: "x", version: 1},
		&counter{name: "y", version: 1}}, opts)
	require.ErrorContains(t, err, "views would collide")
	_, err = rt.RebuildMany(context.Background(), []string{"a", "b"}, projections.RebuildOptions{Into: e.app + "_two"})
	require.ErrorIs(t, err, projections.ErrInvalidRebuild, "a copy takes one projection")
}

// indexedCounter is a counter with a deferred secondary index (Tuning.DeferredIndexes).
type indexedCounter struct{ *counter }

func (indexedCounter) Tuning() projections.Tuning {
	return projections.Tuning{DeferredIndexes: []string{`CREATE INDEX IF NOT EXISTS stream_counts_events_idx ON stream_counts (events)`}}
}

// TestRebuildDefersIndexes: a live build has its deferred indexes from the start; a shadow
// build fills its tables without them, creates them once filled (phase indexing), and
// swaps in with them.
func TestRebuildDefersIndexes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 2000, 7, nil)
	opts := testOptions()
	opts.ReplayBatchEvents, opts.ReplayPageEvents = 300, 200
	p := indexedCounter{&counter{name: "counter", version: 1}}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{p}, opts)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	// A connection of its own: the progress callback runs while the replay holds the pool's.
	conn, err := e.pool.Acquire(context.Background())
	require.NoError(t, err)
	defer conn.Release()
	hasIndex := func(schema string) bool {
		var n int
		err := conn.QueryRow(context.Background(),
			`SELECT count(*) FROM pg_indexes WHERE schemaname = $1 AND indexname = 'stream_counts_events_idx'`, schema).Scan(&n)
		assert.NoError(t, err) // not require: the progress callback runs on the replay's goroutine
		return n == 1
	}
	assert.True(t, hasIndex(status(t, rt, "counter").LiveBuild), "the live build has its indexes")

	var phases []string
	indexedWhileReplaying := false
	res, err := rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{Progress: func(pr projections.Progress) {
		if pr.Phase == projections.PhaseReplaying && pr.Build != "" && hasIndex(pr.Build) {
			indexedWhileReplaying = true
		}
		if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
			phases = append(phases, pr.Phase)
		}
	}})
	require.NoError(t, err)
	assert.False(t, indexedWhileReplaying, "the shadow build is filled without its secondary indexes")
	assert.Contains(t, phases, projections.PhaseIndexing)
	assert.Equal(t, res.Build, status(t, rt, "counter").LiveBuild)
	assert.True(t, hasIndex(res.Build), "the swapped-in build has its indexes")
}
