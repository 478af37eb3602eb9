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
	e := newEnv(t)
	appendEvents(t, e.store, 100, 3, nil)
	projs := []projections.Projection{&counter{name: "counter", version: 1}}
	rt := projectiontest.Start(t, e.pool, e.store, projs, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

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
