package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/pgtest"
)

// cutOnAppend is an event store whose first append finds the database gone: it cuts the
// proxy the process reaches PostgreSQL through, then appends.
type cutOnAppend struct {
	*postgres.Store // what it records keys with, too
	proxy           *pgtest.Proxy
	once            atomic.Bool
	claims          bool // say no keys are recorded (claimsOnly)
}

func (c *cutOnAppend) RecordsKeys() bool { return !c.claims }

func (c *cutOnAppend) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if c.once.CompareAndSwap(false, true) {
		c.proxy.Cut()
	}
	return c.Store.Append(ctx, stream, expected, events...)
}

// process builds a command API over pool and store, as one server process would; its claims
// wait long for a key held by another request, so that only the outcome is tested, not timing.
func process(t *testing.T, e *env, pool *pgxpool.Pool, store eventstore.Store) http.Handler {
	t.Helper()
	opts := pgstore.Options{AsyncCommit: true}
	h, err := commands.New(commands.Config{Store: store, Numbers: pgstore.NewNumbers(pool, opts),
		Index: pgstore.NewIndex(pool, store), Now: e.clock.Now, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	keys := pgstore.NewKeys(pool, pgstore.KeysConfig{Options: opts, Wait: time.Minute})
	a, err := api.New(api.Config{Handlers: h, Keys: keys, Auth: e.key})
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	return httpx.Observe(zerolog.Nop(), nil, r)
}

func openStore(t *testing.T, pool *pgxpool.Pool) *postgres.Store {
	t.Helper()
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	return store
}

// TestRetryAfterAnOutageRunsAtOnce: a command whose append met a database outage answers 503;
// its key's release could not be written then. Once the database is back, eight retries with
// the same key racing across two processes all get the one answer, at once (no 409 "in
// progress" for the lease's 90 s), and the customer is registered once.
func TestRetryAfterAnOutageRunsAtOnce(t *testing.T) {
	t.Parallel()
	for _, claims := range []bool{false, true} {
		t.Run(fmt.Sprintf("claims=%t", claims), func(t *testing.T) {
			t.Parallel()
			retryAfterAnOutage(t, claims)
		})
	}
}

func retryAfterAnOutage(t *testing.T, claims bool) {
	pool, proxy := pgtest.ProxiedPool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	direct := proxy.Direct(t)
	e := &env{t: t, pool: direct, key: testKey, clock: newClock(start), validate: true}
	secondStore := openStore(t, direct)
	var other eventstore.Store = secondStore
	if claims {
		other = claimsOnly{secondStore}
	}
	first := process(t, e, pool, &cutOnAppend{Store: openStore(t, pool), proxy: proxy, claims: claims})
	second := process(t, e, direct, other)

	tok, key := e.token("acme"), uuid.NewString()
	e.handler = first
	e.must(http.StatusServiceUnavailable, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
	proxy.Restore()
	pool.Reset() // the connections the cut broke

	const retries = 8
	answers := make([]resp, retries)
	var wg sync.WaitGroup
	for i := range retries {
		handler := []http.Handler{first, second}[i%2]
		wg.Go(func() {
			req := e.request(call{path: "/v1/customers", token: tok, body: customerBody(), header: map[string]string{api.HeaderIdempotencyKey: key}})
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			answers[i] = resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		})
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, r := range answers {
		require.Equal(t, http.StatusCreated, r.Status, "retry %d: %s", i, r.Body)
		ids[r.str(t, "id")] = true
	}
	assert.Len(t, ids, 1, "every retry gets the one answer")
	var registered int
	require.NoError(t, direct.QueryRow(context.Background(),
		`SELECT count(*) FROM es_events WHERE type = 'CustomerRegistered'`).Scan(&registered))
	assert.Equal(t, 1, registered, "one key, one customer")
}
