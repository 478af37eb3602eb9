package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// outage is one process's keys reaching the database through a proxy the test cuts, and a
// pool of another process that reaches it directly.
type outage struct {
	keys   *pgstore.Keys
	pool   *pgxpool.Pool // the proxied pool of keys
	proxy  *pgtest.Proxy
	direct *pgxpool.Pool
}

// noWait is a claim wait short enough that a claim still held answers ErrKeyInProgress at once.
const noWait = time.Nanosecond

func newOutage(t *testing.T) *outage {
	t.Helper()
	pool, proxy := pgtest.ProxiedPool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	return &outage{keys: pgstore.NewKeys(pool, pgstore.KeysConfig{Wait: noWait}), pool: pool, proxy: proxy, direct: proxy.Direct(t)}
}

// claimThenFailToRelease claims key, then cuts the database and releases it (the release is
// kept), then restores the database.
func (o *outage) claimThenFailToRelease(t *testing.T, key string, definite bool) commands.Claim {
	t.Helper()
	ctx := context.Background()
	c, err := o.keys.Claim(ctx, tenant(t, "acme"), key, hash(1))
	require.NoError(t, err)
	o.proxy.Cut()
	err = o.keys.Release(ctx, tenant(t, "acme"), key, c.CommandID, definite)
	require.ErrorIs(t, err, eventstore.ErrUnavailable)
	assert.Equal(t, 1, o.keys.Kept())
	o.proxy.Restore()
	o.pool.Reset() // the connections the cut broke
	return c
}

// TestRetryTakesOverAKeptReleaseAtOnce: a retry in the process whose release an outage kept
// takes the key over at once, with the same command id; only one retry can.
func TestRetryTakesOverAKeptReleaseAtOnce(t *testing.T) {
	t.Parallel()
	o := newOutage(t)
	first := o.claimThenFailToRelease(t, "k", false)
	ctx := context.Background()
	retry, err := o.keys.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.NoError(t, err, "the retry does not wait for the lease to run out")
	assert.Equal(t, first.CommandID, retry.CommandID)
	assert.True(t, retry.Recovering)
	assert.Zero(t, o.keys.Kept())
	_, err = o.keys.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.ErrorIs(t, err, commands.ErrKeyInProgress, "a second retry waits for the first")
}

// TestKeptReleaseLetsAnotherProcessRetry: once the kept release is written, another process's
// retry takes the key over at once, with the same command id.
func TestKeptReleaseLetsAnotherProcessRetry(t *testing.T) {
	t.Parallel()
	o := newOutage(t)
	first := o.claimThenFailToRelease(t, "k", false)
	ctx := context.Background()
	other := pgstore.NewKeys(o.direct, pgstore.KeysConfig{Wait: noWait})
	_, err := other.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.ErrorIs(t, err, commands.ErrKeyInProgress, "before the release is written the claim holds")
	require.NoError(t, o.keys.WriteKept(ctx))
	assert.Zero(t, o.keys.Kept())
	retry, err := other.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.NoError(t, err)
	assert.Equal(t, first.CommandID, retry.CommandID)
	assert.True(t, retry.Recovering)
}

// TestKeptReleaseIsWrittenOnceTheDatabaseIsBack: the releaser keeps trying while the database
// is down and writes the release once it answers.
func TestKeptReleaseIsWrittenOnceTheDatabaseIsBack(t *testing.T) {
	t.Parallel()
	o := newOutage(t)
	ctx := context.Background()
	c, err := o.keys.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.NoError(t, err)
	o.proxy.Cut()
	require.Error(t, o.keys.Release(ctx, tenant(t, "acme"), "k", c.CommandID, true))
	failed := make(chan error, 100)
	rctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); o.keys.RunReleaser(rctx, func(err error) { failed <- err }) }()
	t.Cleanup(func() { stop(); <-done })
	require.ErrorIs(t, <-failed, eventstore.ErrUnavailable, "the releaser tries while the database is down")
	o.proxy.Restore()
	require.Eventually(t, func() bool {
		var n int
		require.NoError(t, o.direct.QueryRow(ctx, `SELECT count(*) FROM cmd_idempotency WHERE key = 'k'`).Scan(&n))
		return n == 0
	}, time.Minute, 10*time.Millisecond, "the definite release is written: the key is forgotten")
}

// TestKeptReleaseNeverTouchesAClaimTakenOver: a kept release written after another request
// took the claim over (its lease ran out) leaves that request's claim alone.
func TestKeptReleaseNeverTouchesAClaimTakenOver(t *testing.T) {
	t.Parallel()
	o := newOutage(t)
	first := o.claimThenFailToRelease(t, "k", true)
	ctx := context.Background()
	// The lease runs out; another process takes the claim over.
	_, err := o.direct.Exec(ctx, `UPDATE cmd_idempotency SET locked_until = now() - interval '1 second' WHERE key = 'k'`)
	require.NoError(t, err)
	other := pgstore.NewKeys(o.direct, pgstore.KeysConfig{Wait: noWait})
	took, err := other.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.NoError(t, err)
	require.Equal(t, first.CommandID, took.CommandID)

	// The first process's kept release (a DELETE) is written now, as late as it can be.
	require.NoError(t, o.keys.WriteKept(ctx))
	stored := commands.StoredResponse{Status: 201, Body: []byte(`{}`)}
	require.NoError(t, other.Complete(ctx, tenant(t, "acme"), "k", took.CommandID, stored))
	replay, err := other.Claim(ctx, tenant(t, "acme"), "k", hash(1))
	require.NoError(t, err)
	require.NotNil(t, replay.Replay, "the claim taken over was neither deleted nor released")
	assert.Equal(t, stored.Status, replay.Replay.Status)
}
