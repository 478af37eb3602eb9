package projections_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestWaitForOnStandby: a runtime over a read-only pool (Options.Standby, as the query role
// on a replica) wakes many waiters when the checkpoint moves, without LISTEN (which a
// standby refuses) and without writing; it refuses to start projectors; Checkpoints reads
// every live checkpoint.
func TestWaitForOnStandby(t *testing.T) {
	t.Parallel()
	e, projs, _ := caughtUpCounter(t) // the projector the standby watches

	const app = "proj-standby-query"
	cfg := e.pool.Config().ConnConfig
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable&search_path=%s&default_transaction_read_only=on",
		cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database, e.app)
	pool, err := db.Open(context.Background(), url, db.Options{AppName: app, MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	opts := testOptions()
	opts.Standby, opts.StandbyPoll = true, 20*time.Millisecond
	standby := projectiontest.New(t, pool, e.store, projs, opts)
	require.Error(t, standby.Start(context.Background()), "a standby runtime runs no projector")

	cps, err := standby.Checkpoints(context.Background())
	require.NoError(t, err)
	assert.Equal(t, map[string]eventstore.Position{"counter": 100}, cps)

	const waiters = 20 // more waiters than the pool's connections: they share the poller's reads
	done := make(chan error, waiters)
	for range waiters {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pos, err := standby.WaitFor(ctx, "counter", 150)
			if err == nil && pos < 150 {
				err = fmt.Errorf("reached %d, below 150", pos)
			}
			done <- err
		}()
	}
	appendEvents(t, e.store, 60, 3, nil)
	for range waiters {
		require.NoError(t, <-done)
	}

	var listening int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query ILIKE 'LISTEN%'`, app).Scan(&listening))
	assert.Zero(t, listening, "no session of the standby runtime ran LISTEN")
}

// TestTenantWaitOnStandbyNeedsOnlyItsPartition: on a standby, a tenant's wait over a
// partitioned build is woken when its own partition passes the position, though another
// partition (held by a process that applies nothing) keeps the build's lowest checkpoint
// back: the poller announces each partition's checkpoint, as the primary's NOTIFY does.
func TestTenantWaitOnStandbyNeedsOnlyItsPartition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	opts, _ := partitionedOptions("a", 4)
	first := projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	appendSpread(t, e.store, 100, nil)
	projectiontest.WaitCaughtUp(t, first, "counter", 30*time.Second)
	st := status(t, first, "counter")
	first.Stop()
	held := projections.PartitionOf("t0", 4)
	_, err := e.pool.Exec(ctx, `UPDATE feed_checkpoints SET lease_holder = 'ghost', lease_expires_at = now() + interval '1 hour' WHERE consumer = $1`,
		fmt.Sprintf("projections.%s/p%02d", st.LiveBuild, held))
	require.NoError(t, err)
	opts, _ = partitionedOptions("a", 4)
	projectiontest.Start(t, e.pool, e.store, counterProjs(), opts)
	other := ""
	for k := 1; k < testTenants && other == ""; k++ {
		if tenant := fmt.Sprintf("t%d", k); projections.PartitionOf(tenant, 4) != held {
			other = tenant
		}
	}

	cfg := e.pool.Config().ConnConfig
	url := fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable&search_path=%s&default_transaction_read_only=on",
		cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database, e.app)
	pool, err := db.Open(ctx, url, db.Options{AppName: "proj-standby-parts", MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	sopts := testOptions()
	sopts.Standby, sopts.StandbyPoll = true, 20*time.Millisecond
	standby := projectiontest.New(t, pool, e.store, counterProjs(), sopts)

	head, err := e.store.Head(ctx)
	require.NoError(t, err)
	want := head + 3 // the position the other tenant's three events will end at (dense positions)
	done := make(chan error, 1)
	go func() { // waiting before the write: the first read of the standby cannot answer
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err := standby.WaitForTenant(wctx, "counter", other, want)
		done <- err
	}()
	require.Equal(t, want, appendTo(t, e.store, other, "s-"+other+"-x", 0, 3, nil))
	require.NoError(t, <-done, "the tenant's partition passed its write")

	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	_, err = standby.WaitFor(short, "counter", want)
	require.ErrorIs(t, err, projections.ErrNotReached, "a wait for every tenant still needs the held partition")
}
