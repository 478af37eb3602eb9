package projections_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// testTenants is how many tenants appendSpread spreads its events over.
const testTenants = 24

// appendSpread appends n TestEvents (amounts 1..n, poisoned where poison says), each
// append to a stream of one tenant (metadata tenant tK, stream s-tK-J), and returns the
// position of the last.
func appendSpread(t testing.TB, store eventstore.Store, n int, poison func(i int) bool) eventstore.Position {
	t.Helper()
	var last eventstore.Position
	for i := 0; i < n; {
		k := min(n-i, 1+rand.IntN(40))
		tenant := rand.IntN(testTenants)
		last = appendTo(t, store, fmt.Sprintf("t%d", tenant), fmt.Sprintf("s-t%d-%d", tenant, rand.IntN(3)), i, k, poison)
		i += k
	}
	return last
}

// appendTo appends k TestEvents of tenant to stream (amounts from+1..from+k) and returns the
// position of the last.
func appendTo(t testing.TB, store eventstore.Store, tenant, stream string, from, k int, poison func(i int) bool) eventstore.Position {
	t.Helper()
	evs := make([]eventstore.EventData, k)
	for j := range evs {
		p := testEvent{N: int64(from + j + 1), Poison: poison != nil && poison(from+j)}
		evs[j] = eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: mustJSON(p),
			Metadata: eventstore.Metadata{TenantID: tenant}}
	}
	res, err := store.Append(context.Background(), stream, eventstore.Any(), evs...)
	require.NoError(t, err)
	return res.LastPosition
}

// partitionedOptions are a projector process's options with partitions, holder and metrics.
func partitionedOptions(holder string, partitions int) (projections.Options, *prometheus.Registry) {
	reg := prometheus.NewRegistry()
	opts := testOptions()
	opts.Partitions, opts.Registerer = partitions, reg
	opts.CatchUpEvents = 1_000_000 // every event goes through the live partitions
	opts.Lease = consumer.LeaseConfig{Holder: holder, TTL: 3 * time.Second, Poll: 20 * time.Millisecond}
	return opts, reg
}

// owned reads a projection's gauge from reg (0 when absent).
func owned(t testing.TB, reg *prometheus.Registry, name, projection string) float64 {
	t.Helper()
	return metricValue(t, reg, name, projection, "")
}

// metricValue reads a gauge or counter of reg with labels projection (and mode, if set).
func metricValue(t testing.TB, reg *prometheus.Registry, name, projection, mode string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["projection"] != projection || (mode != "" && labels["mode"] != mode) {
				continue
			}
			if m.GetGauge() != nil {
				return m.GetGauge().GetValue()
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

// owners counts, from a status, the partitions each holder runs.
func owners(st projections.Status) map[string]int {
	out := map[string]int{}
	for _, p := range st.Partitions {
		out[p.Holder]++
	}
	return out
}

func counterProjs() []projections.Projection {
	return []projections.Projection{&counter{name: "counter", version: 1}}
}

// checkCounts checks the counter's rows against SQL over es_events up to pos, and that every
// position was applied once (applied's primary key refuses a second time).
func checkCounts(t testing.TB, pool *pgxpool.Pool, pos eventstore.Position) {
	t.Helper()
	sameRows(t, pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	var applied, events int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT (SELECT count(*) FROM applied), (SELECT count(*) FROM es_events WHERE position <= $1)`,
		int64(pos)).Scan(&applied, &events))
	assert.Equal(t, events, applied, "every event applied exactly once")
}

// TestPartitionsShareLiveWork: two projector processes split a projection's 8 partitions 4
// and 4 (their partitions_owned metrics and the status say so), each applies its partitions'
// events and together they apply every event exactly once; when one stops (releasing its
// leases) the other takes its partitions, and when one's leases simply run out (its database
// sessions cut, so it can neither renew nor release) the other takes them within the TTL. The
// rows equal what SQL computes over the events, and a rebuild's.
func TestPartitionsShareLiveWork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	optsA, regA := partitionedOptions("a", 8)
	optsB, regB := partitionedOptions("b", 8)
	rtA := projectiontest.Start(t, e.pool, e.store, counterProjs(), optsA)
	eventually(t, 30*time.Second, "a runs all 8 partitions", func() bool { return owned(t, regA, "dotmac_projection_partitions_owned", "counter") == 8 })
	poolB, storeB := e.process(t, "proj-part-b")
	rtB := projectiontest.Start(t, poolB, storeB, counterProjs(), optsB)
	eventually(t, 30*time.Second, "a and b run 4 partitions each", func() bool {
		o := owners(status(t, rtB, "counter"))
		return o["a"] == 4 && o["b"] == 4 &&
			owned(t, regA, "dotmac_projection_partitions_owned", "counter") == 4 && owned(t, regB, "dotmac_projection_partitions_owned", "counter") == 4
	})
	st := status(t, rtA, "counter")
	assert.Equal(t, 8, st.PartitionCount)
	assert.Equal(t, "a,b", st.Holder)
	assert.Equal(t, 8.0, owned(t, regB, "dotmac_projection_partitions", "counter"))

	const n = 3000
	appendSpread(t, e.store, n, nil)
	pos := projectiontest.WaitCaughtUp(t, rtA, "counter", 60*time.Second)
	checkCounts(t, e.pool, pos)
	liveA := metricValue(t, regA, "dotmac_projection_events_applied_total", "counter", "live")
	liveB := metricValue(t, regB, "dotmac_projection_events_applied_total", "counter", "live")
	t.Logf("8 partitions, 24 tenants, %d events: a applied %.0f, b applied %.0f", n, liveA, liveB)
	assert.Equal(t, float64(n), liveA+liveB, "each event applied by one process")
	assert.Positive(t, liveA)
	assert.Positive(t, liveB)

	rtA.Stop() // releases its leases
	eventually(t, 30*time.Second, "b takes a's partitions", func() bool {
		return owners(status(t, rtB, "counter"))["b"] == 8 && owned(t, regB, "dotmac_projection_partitions_owned", "counter") == 8
	})
	appendSpread(t, e.store, 500, nil)
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rtB, "counter", 60*time.Second))

	// c joins, takes half, then dies: its sessions are cut and it cannot log in again.
	poolC := deadlyProcess(t, e, "proj_part_c")
	optsC, regC := partitionedOptions("c", 8)
	rtC, err := projections.New(context.Background(), poolC, openStore(t, poolC), counterProjs(), optsC)
	require.NoError(t, err)
	require.NoError(t, rtC.Start(context.Background()))
	eventually(t, 30*time.Second, "b and c run 4 partitions each", func() bool {
		o := owners(status(t, rtB, "counter"))
		return o["b"] == 4 && o["c"] == 4 && owned(t, regC, "dotmac_projection_partitions_owned", "counter") == 4
	})
	appendSpread(t, e.store, 500, nil)
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rtB, "counter", 60*time.Second))
	kill(t, e.pool, "proj_part_c")
	appendSpread(t, e.store, 500, nil)
	eventually(t, 60*time.Second, "b takes c's partitions once c's leases ran out", func() bool {
		return owners(status(t, rtB, "counter"))["b"] == 8
	})
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rtB, "counter", 60*time.Second))
	rtC.Stop() // cannot release anything: its sessions are gone

	// A rebuild (one replay, in one process) ends in the same rows, with 8 partition
	// checkpoints at its swap position; b runs the new build's partitions.
	_, err = rtB.Rebuild(context.Background(), "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	st = status(t, rtB, "counter")
	require.Len(t, st.Partitions, 8)
	for _, p := range st.Partitions {
		assert.GreaterOrEqual(t, p.Position, pos, "partition %d of the rebuilt build", p.Partition)
	}
	appendSpread(t, e.store, 300, nil)
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rtB, "counter", 60*time.Second))
	eventually(t, 30*time.Second, "b runs the rebuilt build's partitions", func() bool {
		return owners(status(t, rtB, "counter"))["b"] == 8
	})
}

// deadlyProcess opens a pool as a new superuser role (dropped at the end), whose sessions kill
// cuts for good.
func deadlyProcess(t *testing.T, e *env, role string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	_, _ = e.pool.Exec(ctx, `DROP ROLE IF EXISTS `+role)
	_, err := e.pool.Exec(ctx, `CREATE ROLE `+role+` LOGIN SUPERUSER`)
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = e.pool.Exec(context.Background(), `DROP ROLE IF EXISTS `+role) })
	cfg := e.pool.Config().Copy()
	cfg.ConnConfig.User = role
	cfg.MaxConns = 12
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// kill stops role from logging in and terminates its sessions: its process is as good as dead.
func kill(t *testing.T, pool *pgxpool.Pool, role string) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `ALTER ROLE `+role+` NOLOGIN`)
	require.NoError(t, err)
	// A session that was logging in as the role changed may pass the login check and show in
	// pg_stat_activity only after one round of terminations: it would keep the process's
	// leases alive. Terminate until none has been seen for a while.
	quiet := 0
	for deadline := time.Now().Add(20 * time.Second); quiet < 3; {
		require.True(t, time.Now().Before(deadline), "sessions of %s keep appearing", role)
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = $1`, role).Scan(&n))
		if n == 0 {
			quiet++
		} else {
			quiet = 0
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestWaitForTenantNeedsOnlyItsPartition: with one partition held by a process that applies
// nothing (a lease taken by hand), a tenant of another partition reads its own write at once,
// while a wait for every tenant, or for a tenant of the held partition, is not reached. Once
// the lease is free, the runtime takes that partition and catches it up.
func TestWaitForTenantNeedsOnlyItsPartition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts, _ := partitionedOptions("a", 4)
	first := projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	appendSpread(t, e.store, 200, nil)
	projectiontest.WaitCaughtUp(t, first, "counter", 30*time.Second)
	st := status(t, first, "counter")
	require.Len(t, st.Partitions, 4)
	first.Stop()

	// "ghost" holds t0's partition for an hour and applies nothing.
	held := projections.PartitionOf("t0", 4)
	ctx := context.Background()
	consumerName := fmt.Sprintf("projections.%s/p%02d", st.LiveBuild, held)
	_, err := e.pool.Exec(ctx, `UPDATE feed_checkpoints SET lease_holder = 'ghost', lease_expires_at = now() + interval '1 hour' WHERE consumer = $1`, consumerName)
	require.NoError(t, err)
	opts, _ = partitionedOptions("a", 4)
	rt := projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	eventually(t, 30*time.Second, "a runs the other three", func() bool {
		o := owners(status(t, rt, "counter"))
		return o["a"] == 3 && o["ghost"] == 1
	})

	other := ""
	for k := 1; k < testTenants && other == ""; k++ {
		if tenant := fmt.Sprintf("t%d", k); projections.PartitionOf(tenant, 4) != held {
			other = tenant
		}
	}
	posT0 := appendTo(t, e.store, "t0", "s-t0-0", 0, 3, nil)
	posOther := appendTo(t, e.store, other, "s-"+other+"-0", 0, 3, nil)

	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	reached, err := rt.WaitForTenant(wctx, "counter", other, posOther)
	require.NoError(t, err, "the other tenant's partition is applied")
	assert.GreaterOrEqual(t, reached, posOther)
	var events int64
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM applied WHERE position = $1`, int64(posOther)).Scan(&events))
	assert.Equal(t, int64(1), events, "its write is in the read model")

	short, cancelShort := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelShort()
	_, err = rt.WaitForTenant(short, "counter", "t0", posT0)
	require.ErrorIs(t, err, projections.ErrNotReached, "t0's partition is held by a process that applies nothing")
	_, err = rt.WaitFor(short, "counter", posOther)
	require.ErrorIs(t, err, projections.ErrNotReached, "a wait for every tenant needs every partition")

	_, err = e.pool.Exec(ctx, `UPDATE feed_checkpoints SET lease_holder = NULL, lease_expires_at = NULL WHERE consumer = $1`, consumerName)
	require.NoError(t, err)
	reached, err = rt.WaitForTenant(wctx, "counter", "t0", posT0)
	require.NoError(t, err, "a takes the partition back and applies it")
	assert.GreaterOrEqual(t, reached, posT0)
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second))
}

// TestPartitionStallsStayPerTenant: an event a projection cannot apply stalls its tenant only,
// with partitions too: the other tenants of its partition and of every other go on, the
// stalled tenant's wait answers with the error id, and a retry clears it.
func TestPartitionStallsStayPerTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var accept atomic.Bool
	c := &counter{name: "counter", version: 1, refuse: func() bool { return !accept.Load() }}
	opts, _ := partitionedOptions("a", 4)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{c}, opts)
	appendSpread(t, e.store, 300, nil)
	bad := appendTo(t, e.store, "t5", "s-t5-0", 0, 1, func(int) bool { return true })
	appendSpread(t, e.store, 300, nil)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	st := status(t, rt, "counter")
	require.Len(t, st.StalledTenants, 1)
	assert.Equal(t, "t5", st.StalledTenants[0].Tenant)
	assert.Equal(t, bad, st.StalledTenants[0].Position)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	head, err := rt.Head(ctx)
	require.NoError(t, err)
	_, err = rt.WaitForTenant(ctx, "counter", "t5", head)
	var stalled *projections.TenantStalledError
	require.True(t, errors.As(err, &stalled), "t5 is stalled: %v", err)
	k5 := projections.PartitionOf("t5", 4)
	for k := range testTenants {
		tenant := fmt.Sprintf("t%d", k)
		if tenant == "t5" {
			continue
		}
		_, err := rt.WaitForTenant(ctx, "counter", tenant, head)
		require.NoError(t, err, "tenant %s (in t5's partition: %v) is served", tenant, projections.PartitionOf(tenant, 4) == k5)
	}
	accept.Store(true)
	res, err := rt.Retry(ctx, projections.RetryOptions{})
	require.NoError(t, err)
	require.Len(t, res, 1)
	assert.True(t, res[0].Cleared)
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second))
}

// TestInterruptedPartitions: two projector processes sharing 4 partitions are killed at random
// points many times while events flow (contexts cancelled, or database sessions terminated
// under them); afterwards every position was applied exactly once and the rows equal a clean
// copy's.
func TestInterruptedPartitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := startAppender(t, e.store)
	for i := range 12 {
		var rts []*projections.Runtime
		var pools []*pgxpool.Pool
		for _, who := range []string{"a", "b"} {
			appName := fmt.Sprintf("part-int-%d-%s-%s", i, who, e.app)
			pool, store := e.process(t, appName[:min(len(appName), 60)])
			opts, _ := partitionedOptions(who, 4)
			opts.LiveBatchEvents = 1 + rand.IntN(60)
			rt, err := projections.New(context.Background(), pool, store, counterProjs(), opts)
			require.NoError(t, err)
			require.NoError(t, rt.Start(context.Background()))
			rts, pools = append(rts, rt), append(pools, pool)
		}
		time.Sleep(time.Duration(50+rand.IntN(150)) * time.Millisecond)
		if i%2 == 1 {
			_, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE $1`,
				fmt.Sprintf("part-int-%d-%%", i))
			require.NoError(t, err)
		}
		for k, rt := range rts {
			rt.Stop()
			pools[k].Close()
		}
	}
	a.halt()
	opts, _ := partitionedOptions("final", 4)
	rt := projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 60*time.Second)
	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	require.Equal(t, head, pos)
	st := status(t, rt, "counter")
	require.Len(t, st.Partitions, 4)
	require.Empty(t, st.StalledTenants, "nothing applied twice (applied's key) nor refused")
	clean := e.app + "_clean"
	_, err = rt.Rebuild(context.Background(), "counter", projections.RebuildOptions{Into: clean})
	require.NoError(t, err)
	t.Cleanup(func() { _, _ = e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+clean+` CASCADE`) })
	sameRows(t, e.pool, `SELECT * FROM stream_counts`, `SELECT * FROM `+qualify(clean, "stream_counts"))
	checkCounts(t, e.pool, head)
}

// TestRebuildSetsPartitions: a rebuild keeps the live build's partition count unless it is
// asked for another; the new count's checkpoints are split at the swap, and the running
// projector runs the new build's partitions from there.
func TestRebuildSetsPartitions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts, _ := partitionedOptions("a", 4)
	rt := projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	appendSpread(t, e.store, 300, nil)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	keep := projectiontest.New(t, e.pool, e.store, counterProjs(), testOptions()) // the CLI's: Partitions 0
	_, err := keep.Rebuild(context.Background(), "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	assert.Equal(t, 4, status(t, rt, "counter").PartitionCount, "kept")

	// A waiter that read the 4-partition build before the swap is answered by the 2-partition
	// build after it.
	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	waited := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := rt.WaitFor(ctx, "counter", head+100)
		waited <- err
	}()
	two := testOptions()
	two.Partitions = 2
	_, err = projectiontest.New(t, e.pool, e.store, counterProjs(), two).Rebuild(context.Background(), "counter", projections.RebuildOptions{})
	require.NoError(t, err)
	st := status(t, rt, "counter")
	require.Equal(t, 2, st.PartitionCount)
	require.Len(t, st.Partitions, 2)
	appendSpread(t, e.store, 300, nil)
	require.NoError(t, <-waited)
	eventually(t, 30*time.Second, "a runs the new build's 2 partitions", func() bool { return owners(status(t, rt, "counter"))["a"] == 2 })
	checkCounts(t, e.pool, projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second))
}
