package postgres_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

// feedReads counts the store's reads of the global feed (ReadAll's query), sent alone or in
// a batch.
type feedReads struct{ n atomic.Int64 }

func (f *feedReads) count(sql string) {
	if strings.Contains(sql, "FROM es_events WHERE position > $1 ORDER BY position LIMIT $2") {
		f.n.Add(1)
	}
}

func (f *feedReads) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	f.count(d.SQL)
	return ctx
}

func (*feedReads) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (*feedReads) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (f *feedReads) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	f.count(d.SQL)
}

func (*feedReads) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// tracedStore opens a store with cfg in a schema of its own, over a pool whose reads of the
// feed are counted, and returns the schema's URL.
func tracedStore(ctx context.Context, t *testing.T, cfg postgres.Config) (*postgres.Store, *feedReads, string) {
	t.Helper()
	url := pgtest.SchemaURL(t)
	reads := &feedReads{}
	return storeOn(ctx, t, url, reads, cfg), reads, url
}

// storeOn opens a store with cfg on the schema of url (migrated first), over a pool of its own
// traced by tracer (nil: none).
func storeOn(ctx context.Context, t *testing.T, url string, tracer pgx.QueryTracer, cfg postgres.Config) *postgres.Store {
	t.Helper()
	pcfg, err := pgxpool.ParseConfig(url)
	require.NoError(t, err)
	pcfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, migrate.Up(ctx, pool, postgres.MigrationSet()))
	s, err := postgres.Open(ctx, pool, cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

// TestSubscriptionsShareTheFeedsReads: eight subscriptions at the feed's end, woken by one
// append, get its events from one query between them (each ran its own before).
func TestSubscriptionsShareTheFeedsReads(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, reads, _ := tracedStore(ctx, t, postgres.Config{})

	_, err := s.Append(ctx, "s-1", eventstore.Any(), testEvent(1))
	require.NoError(t, err)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	subs := make([]eventstore.Subscription, 8)
	for i := range subs {
		subs[i], err = s.SubscribeAll(ctx, head)
		require.NoError(t, err)
		t.Cleanup(func() { _ = subs[i].Close() })
	}
	res, err := s.Append(ctx, "s-1", eventstore.Any(), testEvent(2), testEvent(3))
	require.NoError(t, err)
	before := reads.n.Load()
	for _, sub := range subs {
		got := waitFor(t, sub, res.LastPosition)
		require.Len(t, got, 2)
		assert.Equal(t, res.LastPosition, got[1].Position)
		assert.JSONEq(t, `{"n":3}`, string(got[1].Data))
	}
	assert.EqualValues(t, 1, reads.n.Load()-before, "one read of the feed for eight subscriptions")
}

// TestReadAllFromTheSubscriptionsReads: a ReadAll after a position the subscriptions have read
// past is answered from their shared reads without a query, with what the query returns; at
// the feed's end, or behind what is kept, it queries.
func TestReadAllFromTheSubscriptionsReads(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, reads, url := tracedStore(ctx, t, postgres.Config{SubscriptionBatch: 4})

	first, err := s.Append(ctx, "s-1", eventstore.Any(), testEvent(1), testEvent(2))
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, first.LastPosition)
	require.NoError(t, err)
	t.Cleanup(func() { _ = sub.Close() })
	res, err := s.Append(ctx, "s-1", eventstore.Any(), testEvent(3), testEvent(4), testEvent(5))
	require.NoError(t, err)
	waitFor(t, sub, res.LastPosition)

	// What the database holds, read through a store of its own (which has read nothing) over
	// a pool whose reads are not counted.
	plain, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(plain.Close)
	direct, err := postgres.Open(ctx, plain, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(direct.Close)
	before := reads.n.Load()
	for after := first.LastPosition; after < res.LastPosition; after++ {
		got, err := s.ReadAll(ctx, after, 2)
		require.NoError(t, err)
		want, err := direct.ReadAll(ctx, after, 2)
		require.NoError(t, err)
		assert.Equal(t, want, got, "after %d", after)
	}
	assert.EqualValues(t, 0, reads.n.Load()-before, "the store the subscription read through answered every read from memory")

	before = reads.n.Load()
	got, err := s.ReadAll(ctx, res.LastPosition, 10)
	require.NoError(t, err)
	assert.Empty(t, got)
	got, err = s.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	assert.Len(t, got, 5)
	assert.EqualValues(t, 2, reads.n.Load()-before, "at the end and behind the stretch, ReadAll queries")
}
