package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
)

// TestConcurrentKeysReplayTheirOwnResponses: claims and completions of many requests at once
// (grouped into few statements) each win their own key and store their own response, which a
// retry gets back exactly, headers that JSON escapes included.
func TestConcurrentKeysReplayTheirOwnResponses(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	acme := tenant(t, "acme")
	const n = 40
	responseOf := func(i int) commands.StoredResponse {
		return commands.StoredResponse{Status: 200 + i%3, Body: fmt.Appendf(nil, "{\"n\":%d}\n", i), Headers: map[string]string{
			"ETag": fmt.Sprintf(`"%d"`, i), "Location": fmt.Sprintf(`/v1/x/%d?q="a\b"&é`, i)}}
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := fmt.Sprintf("k%d", i)
			c, err := keys.Claim(ctx, acme, k, hash(byte(i)))
			if assert.NoError(t, err) && assert.Nil(t, c.Replay) {
				assert.NoError(t, keys.Complete(ctx, acme, k, c.CommandID, responseOf(i)))
			}
		})
	}
	wg.Wait()
	for i := range n {
		again, err := keys.Claim(ctx, acme, fmt.Sprintf("k%d", i), hash(byte(i)))
		require.NoError(t, err)
		require.NotNil(t, again.Replay, "k%d", i)
		assert.Equal(t, responseOf(i), *again.Replay)
	}
}

// TestGroupedStatementsArePlannedOnce: the grouped claim and completion run their generic
// plan, instead of being planned again on every execution (a custom plan, which PostgreSQL
// prefers for the few items a statement usually carries), and the setting ends with them.
func TestGroupedStatementsArePlannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := mustPool(t).Config().Copy()
	cfg.MaxConns, cfg.MinConns = 1, 0 // one session, whose prepared statements we can see
	one, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(one.Close)
	keys := pgstore.NewKeys(one, pgstore.KeysConfig{})
	acme := tenant(t, "acme")
	const n = 8 // beyond the 5 executions after which PostgreSQL compares the plans
	for i := range n {
		k := fmt.Sprintf("k%d", i)
		c, err := keys.Claim(ctx, acme, k, hash(byte(i)))
		require.NoError(t, err)
		require.NoError(t, keys.Complete(ctx, acme, k, c.CommandID, commands.StoredResponse{Status: 201, Body: []byte("{}\n")}))
	}
	rows, err := one.Query(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements
		WHERE statement LIKE '%cmd_idempotency%unnest%' AND statement NOT LIKE '%pg_prepared_statements%'`)
	require.NoError(t, err)
	statements := 0
	for rows.Next() {
		var generic, custom int64
		require.NoError(t, rows.Scan(&generic, &custom))
		assert.Equal(t, int64(n), generic)
		assert.Zero(t, custom)
		statements++
	}
	require.NoError(t, rows.Err())
	assert.Equal(t, 2, statements, "the claim and the completion")
	var mode string
	require.NoError(t, one.QueryRow(ctx, "SHOW plan_cache_mode").Scan(&mode))
	assert.Equal(t, "auto", mode)
}

// TestCompletionsStayOnTheirPage: a completion (the stored response, about 600 bytes a row
// against a claim's 150) is a HOT update, with no primary-key entry to add, even when many
// claims were inserted before the first of them completes, as under 64 concurrent clients.
// At the table's former fillfactor (60) most completions of this test moved their row.
func TestCompletionsStayOnTheirPage(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	acme := tenant(t, "acme")
	const n = 64
	claims := make([]commands.Claim, n)
	for i := range n { // every claim first, as when many requests arrive together
		c, err := keys.Claim(ctx, acme, fmt.Sprintf("key-%04d", i), hash(byte(i)))
		require.NoError(t, err)
		claims[i] = c
	}
	body := fmt.Appendf(nil, `{"payment_id":"0193f5a0-0000-7000-8000-000000000000","customer_id":"0193f5a0-0000-7000-8000-000000000001","amount":{"amount":"120.50","currency":"EUR"},"position":%d,"version":%d,"allocations":[{"invoice_id":"0193f5a0-0000-7000-8000-000000000002","amount":{"amount":"120.50","currency":"EUR"}}]}`+"\n", 1000, 7)
	headers := map[string]string{"Content-Type": "application/json", "Location": "/v1/payments/0193f5a0-0000-7000-8000-000000000000",
		"X-Ledger-Position": "1000", "X-Ledger-Version": "7", "ETag": `"7"`}
	for i := range n {
		require.NoError(t, keys.Complete(ctx, acme, fmt.Sprintf("key-%04d", i), claims[i].CommandID,
			commands.StoredResponse{Status: 201, Body: body, Headers: headers}))
	}
	// The writers' statistics reach pg_stat_user_tables when their sessions go idle.
	_, err := pool.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
	require.NoError(t, err)
	var updated, hot int64
	require.Eventually(t, func() bool {
		err := pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
			WHERE relid = 'cmd_idempotency'::regclass`).Scan(&updated, &hot)
		return err == nil && updated >= n
	}, 15*time.Second, 50*time.Millisecond, "the completions' statistics never arrived")
	assert.Equal(t, updated, hot, "%d of %d completions moved their row to another page", updated-hot, updated)
}

// roundTrips counts a pool's round trips: statements sent alone and batches.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (*roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (*roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (*roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// TestClaimsAndCompletionsShareARoundTrip: claims and completions waiting at the same moment
// go in one round trip (one transaction), and each does what it would alone: new keys are
// claimed, a key stored already is not, completed keys replay their responses.
func TestClaimsAndCompletionsShareARoundTrip(t *testing.T) {
	t.Parallel()
	base := mustPool(t)
	cfg, err := pgxpool.ParseConfig(base.Config().ConnString())
	require.NoError(t, err)
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	ctx := context.Background()
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{Wait: 50 * time.Millisecond, Options: pgstore.Options{AsyncCommit: true}})
	acme := tenant(t, "acme")

	first, err := keys.Claim(ctx, acme, "k1", hash(1))
	require.NoError(t, err)
	second, err := keys.Claim(ctx, acme, "k2", hash(2))
	require.NoError(t, err)
	answer := func(n int) commands.StoredResponse {
		return commands.StoredResponse{Status: 201, Body: fmt.Appendf(nil, "{\"n\":%d}\n", n), Headers: map[string]string{"Location": fmt.Sprintf("/v1/x/%d", n)}}
	}

	before := trips.n.Load()
	won, err := keys.WriteTogether(ctx, acme.String(), []string{"k3", "k1", "k4"}, hash(3), []pgstore.Completion{
		{Key: "k1", CommandID: first.CommandID, Response: answer(1)},
		{Key: "k2", CommandID: second.CommandID, Response: answer(2)},
	})
	require.NoError(t, err)
	assert.Equal(t, int64(1), trips.n.Load()-before, "one round trip for three claims and two completions")
	assert.Equal(t, []bool{true, false, true}, won, "k1 is stored already")

	for i, c := range []commands.Claim{first, second} {
		replay, err := keys.Claim(ctx, acme, fmt.Sprintf("k%d", i+1), hash(byte(i+1)))
		require.NoError(t, err)
		require.NotNil(t, replay.Replay, "k%d completed", i+1)
		assert.Equal(t, c.CommandID, replay.CommandID)
		assert.Equal(t, answer(i+1), *replay.Replay)
	}
	_, err = keys.Claim(ctx, acme, "k3", hash(3))
	assert.ErrorIs(t, err, commands.ErrKeyInProgress, "k3 is claimed, not completed")
}

// TestPreviousAnswersKeysClaimedBeforeTheUpgrade: Previous (a server recording keys with the
// events) answers what a key holds in cmd_idempotency: a completed one its answer, a lapsed
// claim its command id to recover with, a claim still running ErrKeyInProgress, another
// request *KeyReusedError; and over an empty table it never looks again.
func TestPreviousAnswersKeysClaimedBeforeTheUpgrade(t *testing.T) {
	t.Parallel()
	pool := mustPool(t)
	ctx := context.Background()
	before := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	acme := tenant(t, "acme")
	answered, err := before.Claim(ctx, acme, "answered", hash(1))
	require.NoError(t, err)
	answer := commands.StoredResponse{Status: 201, Body: []byte("{}\n"), Headers: map[string]string{"ETag": `"1"`}}
	require.NoError(t, before.Complete(ctx, acme, "answered", answered.CommandID, answer))
	lapsed, err := before.Claim(ctx, acme, "lapsed", hash(2))
	require.NoError(t, err)
	require.NoError(t, before.Release(ctx, acme, "lapsed", lapsed.CommandID, false))
	_, err = before.Claim(ctx, acme, "running", hash(3))
	require.NoError(t, err)

	after := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	c, found, err := after.Previous(ctx, acme, "answered", hash(1))
	require.NoError(t, err)
	require.True(t, found)
	require.NotNil(t, c.Replay)
	assert.Equal(t, answer, *c.Replay)
	c, found, err = after.Previous(ctx, acme, "lapsed", hash(2))
	require.NoError(t, err)
	assert.True(t, found)
	assert.Equal(t, commands.Claim{CommandID: lapsed.CommandID, Recovering: true}, c)
	_, _, err = after.Previous(ctx, acme, "running", hash(3))
	require.ErrorIs(t, err, commands.ErrKeyInProgress)
	_, _, err = after.Previous(ctx, acme, "answered", hash(9))
	require.ErrorIs(t, err, commands.ErrKeyReused)
	_, found, err = after.Previous(ctx, acme, "new", hash(4))
	require.NoError(t, err)
	assert.False(t, found)

	_, err = pool.Exec(ctx, `DELETE FROM cmd_idempotency`)
	require.NoError(t, err)
	empty := pgstore.NewKeys(pool, pgstore.KeysConfig{})
	_, found, err = empty.Previous(ctx, acme, "answered", hash(1))
	require.NoError(t, err)
	require.False(t, found)
	_, err = before.Claim(ctx, acme, "answered", hash(1)) // an older server still claiming
	require.NoError(t, err)
	_, found, err = empty.Previous(ctx, acme, "answered", hash(1))
	require.NoError(t, err)
	assert.False(t, found, "an empty table is never looked at again")
}
