package pgstore_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

func mustPool(t *testing.T) *pgxpool.Pool {
	t.Helper()
	return pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet())
}

func tenant(t *testing.T, s string) domain.TenantID {
	t.Helper()
	id, err := domain.ParseTenantID(s)
	require.NoError(t, err)
	return id
}

// TestNumbersAreUniqueAndSequential: concurrent allocations get 1..n without a repeat, per
// tenant and year.
func TestNumbersAreUniqueAndSequential(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	for _, async := range []bool{false, true} {
		n := pgstore.NewNumbers(pool, pgstore.Options{AsyncCommit: async})
		acme, other := tenant(t, "acme"), tenant(t, "other")
		if async {
			acme, other = tenant(t, "acme-async"), tenant(t, "other-async")
		}
		const count = 40
		got := make([]int64, count)
		var wg sync.WaitGroup
		for i := range count {
			wg.Go(func() {
				var err error
				got[i], err = n.Next(context.Background(), acme, 2026)
				assert.NoError(t, err)
			})
		}
		wg.Wait()
		slices.Sort(got)
		for i, v := range got {
			assert.Equal(t, int64(i+1), v)
		}
		next, err := n.Next(context.Background(), acme, 2027)
		require.NoError(t, err)
		assert.Equal(t, int64(1), next, "a new year starts at 1")
		next, err = n.Next(context.Background(), other, 2026)
		require.NoError(t, err)
		assert.Equal(t, int64(1), next, "tenants count apart")
	}
}

// TestAsyncCommitIsScopedToItsStatement: the statements of AsyncCommit run with
// synchronous_commit off, and the pool's sessions keep it on.
func TestAsyncCommitIsScopedToItsStatement(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	setting, err := pgstore.SynchronousCommitOf(context.Background(), pool, true)
	require.NoError(t, err)
	assert.Equal(t, "off", setting)
	setting, err = pgstore.SynchronousCommitOf(context.Background(), pool, false)
	require.NoError(t, err)
	assert.Equal(t, "on", setting)
	var after string
	require.NoError(t, pool.QueryRow(context.Background(), "SHOW synchronous_commit").Scan(&after))
	assert.Equal(t, "on", after)
}

func hash(b byte) [32]byte { return [32]byte{b} }

// TestKeysClaimReplayAndPurge covers a key's life: claimed, replayed, refused with another
// request, waited for while running, taken over once lapsed, and purged when old.
func TestKeysClaimReplayAndPurge(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{Wait: 50 * time.Millisecond})
	acme := tenant(t, "acme")

	c, err := keys.Claim(ctx, acme, "k1", hash(1))
	require.NoError(t, err)
	require.Nil(t, c.Replay)
	_, err = keys.Claim(ctx, acme, "k1", hash(1))
	require.ErrorIs(t, err, commands.ErrKeyInProgress, "running: the second request waits, then gives up")
	_, err = keys.Claim(ctx, acme, "k1", hash(2))
	require.ErrorIs(t, err, commands.ErrKeyReused)

	stored := commands.StoredResponse{Status: 201, Headers: map[string]string{"ETag": `"1"`}, Body: []byte(`{"id":"x"}`)}
	require.NoError(t, keys.Complete(ctx, acme, "k1", c.CommandID, stored))
	again, err := keys.Claim(ctx, acme, "k1", hash(1))
	require.NoError(t, err)
	require.NotNil(t, again.Replay)
	assert.Equal(t, stored, *again.Replay)

	lapsed, err := keys.Claim(ctx, acme, "k2", hash(3))
	require.NoError(t, err)
	require.NoError(t, keys.Release(ctx, acme, "k2", lapsed.CommandID, false))
	took, err := keys.Claim(ctx, acme, "k2", hash(3))
	require.NoError(t, err)
	assert.True(t, took.Recovering)
	assert.Equal(t, lapsed.CommandID, took.CommandID, "a take-over runs the same command id")

	forgotten, err := keys.Claim(ctx, acme, "k3", hash(4))
	require.NoError(t, err)
	require.NoError(t, keys.Release(ctx, acme, "k3", forgotten.CommandID, true))
	fresh, err := keys.Claim(ctx, acme, "k3", hash(5))
	require.NoError(t, err, "a definite failure forgets the key")
	assert.NotEqual(t, forgotten.CommandID, fresh.CommandID)

	_, err = pool.Exec(ctx, `UPDATE cmd_idempotency SET created_at = now() - interval '49 hours' WHERE key IN ('k1', 'k3')`)
	require.NoError(t, err)
	n, err := keys.Purge(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(1), n, "k1 is old and completed; k3 is old but still running")
	var left []string
	rows, err := pool.Query(ctx, `SELECT key FROM cmd_idempotency ORDER BY key`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		left = append(left, k)
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, []string{"k2", "k3"}, left)
}

// TestIndexFollowsTheFeed: the billing index lists what the feed says about services, resumes
// from its checkpoint, and ignores streams it does not know.
func TestIndexFollowsTheFeed(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	acme, other := tenant(t, "acme"), tenant(t, "other")
	c1, c2 := customerID(t), customerID(t)
	s1, s2, s3 := provision(t, store, acme, c1), provision(t, store, acme, c1), provision(t, store, acme, c2)
	provision(t, store, other, c1)
	_, err = store.Append(ctx, "not-a-domain-stream", eventstore.Any(), eventstore.EventData{ID: uuid.Must(uuid.NewV7()),
		Type: "ServiceProvisioned", SchemaVersion: 1, Data: []byte(`{}`)})
	require.NoError(t, err)

	x := pgstore.NewIndex(pool, store)
	require.NoError(t, x.CatchUp(ctx))
	jan := period(t, "2026-01")
	billable, err := x.Billable(ctx, acme, jan)
	require.NoError(t, err)
	require.Len(t, billable, 2)
	assert.ElementsMatch(t, []domain.ServiceID{s1, s2}, servicesOf(billable, c1))
	assert.Equal(t, []domain.ServiceID{s3}, servicesOf(billable, c2))

	terminate(t, store, acme, c2, s3, "2025-12-31")
	require.NoError(t, pgstore.NewIndex(pool, store).CatchUp(ctx), "a second index resumes from the checkpoint")
	billable, err = x.Billable(ctx, acme, jan)
	require.NoError(t, err)
	assert.Len(t, billable, 1, "a service terminated before the period is not billed")
	dec, err := x.Billable(ctx, acme, period(t, "2025-12"))
	require.NoError(t, err)
	assert.Len(t, dec, 2, "but it is in its last month")
	services, err := x.Services(ctx, acme, c2)
	require.NoError(t, err)
	assert.Equal(t, []domain.ServiceID{s3}, services)
}

func customerID(t *testing.T) domain.CustomerID {
	t.Helper()
	id, err := domain.NewCustomerID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	return id
}

func period(t *testing.T, s string) domain.Period {
	t.Helper()
	p, err := domain.ParsePeriod(s)
	require.NoError(t, err)
	return p
}

func provision(t *testing.T, store eventstore.Store, tn domain.TenantID, c domain.CustomerID) domain.ServiceID {
	t.Helper()
	id, err := domain.NewServiceID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	append1(t, store, domain.ServiceStream(tn, id), domain.ServiceProvisioned{ServiceID: id, CustomerID: c, InstallAddress: "x"})
	return id
}

func terminate(t *testing.T, store eventstore.Store, tn domain.TenantID, c domain.CustomerID, s domain.ServiceID, day string) {
	t.Helper()
	d, err := domain.ParseDate(day)
	require.NoError(t, err)
	append1(t, store, domain.ServiceStream(tn, s), domain.ServiceTerminated{ServiceID: s, CustomerID: c, TerminatedOn: d})
}

func append1(t *testing.T, store eventstore.Store, stream string, e domain.Event) {
	t.Helper()
	data, err := codec.Encode(eventstore.Metadata{}, e)
	require.NoError(t, err)
	_, err = store.Append(context.Background(), stream, eventstore.Any(), data...)
	require.NoError(t, err)
}

func servicesOf(list []commands.BillableCustomer, c domain.CustomerID) []domain.ServiceID {
	for _, bc := range list {
		if bc.CustomerID == c {
			return bc.Services
		}
	}
	return nil
}

// TestWarmerCatchesBothIndexesUp: started with the process, the warmer reads the feed into the
// billing index and the payment references, so no request has to.
func TestWarmerCatchesBothIndexesUp(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := t.Context()
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	acme := tenant(t, "acme")
	c := customerID(t)
	provision(t, store, acme, c)
	pid, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	amount, err := domain.ParseMoney("25.00", "USD")
	require.NoError(t, err)
	append1(t, store, domain.CustomerStream(acme, c), domain.PaymentRecorded{CustomerID: c, PaymentID: pid, Amount: amount,
		Method: domain.PaymentMethodCard, ExternalReference: "stripe:pi_warm", ReceivedAt: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC), Unapplied: amount})
	head, err := store.Head(ctx)
	require.NoError(t, err)

	x := pgstore.NewIndex(pool, store)
	var errs []error
	x.RunWarmer(ctx, func(err error) { errs = append(errs, err) })
	require.Empty(t, errs)
	index, refs, err := x.Positions(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, index, "the billing index")
	assert.Equal(t, head, refs, "the payment references")

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	x.RunWarmer(cancelled, func(err error) { t.Errorf("a cancelled warmer reports nothing: %v", err) })
}

// TestGenericPlansAreScopedToTheirStatement: a grouped statement runs with plan_cache_mode
// force_generic_plan, with or without AsyncCommit, and the pool's sessions keep auto.
func TestGenericPlansAreScopedToTheirStatement(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	for _, async := range []bool{false, true} {
		mode, err := pgstore.SettingOf(context.Background(), pool, async, true, "plan_cache_mode")
		require.NoError(t, err)
		assert.Equal(t, "force_generic_plan", mode)
		commit, err := pgstore.SettingOf(context.Background(), pool, async, true, "synchronous_commit")
		require.NoError(t, err)
		assert.Equal(t, map[bool]string{false: "on", true: "off"}[async], commit)
	}
	mode, err := pgstore.SettingOf(context.Background(), pool, false, false, "plan_cache_mode")
	require.NoError(t, err)
	assert.Equal(t, "auto", mode)
}
