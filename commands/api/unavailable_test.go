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
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
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

// TestUndecodableHistoryAnswers503: a command on a stream holding an event this binary cannot
// decode answers 503 with an error id, never a 500, and nothing of the event (its stream,
// version, type, data or the decoder's words); nothing is written. Another customer's commands
// go on.
func TestUndecodableHistoryAnswers503(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	id, err := domain.ParseCustomerID(customer)
	require.NoError(t, err)
	stream := domain.CustomerStream(tenant, id)
	_, err = e.store.Append(context.Background(), stream, eventstore.Any(), eventstore.EventData{ID: uuid.New(),
		Type: "CustomerContactUpdated", SchemaVersion: 1, Data: []byte(`{"customer_id":"` + customer + `","name":1999999,"email":"Secret Name"}`),
		Metadata: eventstore.Metadata{TenantID: "acme"}})
	require.NoError(t, err)
	before, err := e.store.Head(context.Background())
	require.NoError(t, err)

	r := e.must(http.StatusServiceUnavailable, tok, "/v1/customers/"+customer+"/invoices", map[string]any{
		"lines": []any{map[string]any{"description": "Installation", "unit_price": money("10.00", "USD")}}})
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, r.str(t, "error_id"))
	assert.Contains(t, r.str(t, "detail"), r.str(t, "error_id"))
	assert.NotEmpty(t, r.Header.Get("Retry-After"))
	for _, secret := range []string{stream, "CustomerContactUpdated", "Secret Name", "decode", "invariant", "version"} {
		assert.NotContains(t, string(r.Body), secret)
	}
	after, err := e.store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, before, after, "nothing written")
	e.issuedInvoice(tok, e.registerCustomer(tok), "10.00")
}
