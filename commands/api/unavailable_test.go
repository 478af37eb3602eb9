package api_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/eventstore/postgres"
)

// TestStoreUnavailableAnswers503: with the event store's connections gone, every endpoint
// answers 503 with Retry-After, and a retry with the same key runs once the store is back.
func TestStoreUnavailableAnswers503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	dead, err := pgxpool.NewWithConfig(context.Background(), e.pool.Config())
	require.NoError(t, err)
	store, err := postgres.Open(context.Background(), dead, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	dead.Close()
	_, handler, _ := e.newProcess(store)
	down := &env{t: t, pool: e.pool, store: e.store, key: e.key, clock: e.clock, handler: handler, validate: true}

	tok := e.token("acme")
	for _, rt := range api.Routes() {
		r := down.post(tok, examplePath(rt.Path, nil), exampleBody(rt.Operation, nil))
		require.Equal(t, http.StatusServiceUnavailable, r.Status, "%s %s: %s", rt.Method, rt.Path, r.Body)
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		require.NoError(t, err)
		assert.Positive(t, retry)
	}

	key := uuid.NewString()
	down.must(http.StatusServiceUnavailable, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
	e.must(http.StatusCreated, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
}

// TestDatabaseUnavailableAnswers503: with no database at all (the idempotency keys cannot be
// claimed either), the answer is 503 too.
func TestDatabaseUnavailableAnswers503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.pool.Close()
	r := e.must(http.StatusServiceUnavailable, e.token("acme"), "/v1/customers", customerBody())
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
}
