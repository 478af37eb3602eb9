package api_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

func (e *env) head() eventstore.Position {
	e.t.Helper()
	h, err := e.store.Head(context.Background())
	require.NoError(e.t, err)
	return h
}

// TestIdempotentRetryReturnsTheFirstResponse: the same key and body get the first status,
// body and headers back, and nothing is appended again.
func TestIdempotentRetryReturnsTheFirstResponse(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		customer := e.registerCustomer(tok)
		e.issuedInvoice(tok, customer, "30.00")
		key := uuid.NewString()
		path := "/v1/customers/" + customer + "/payments"
		body := map[string]any{"amount": money("12.50", "USD"), "method": "card", "external_reference": "ch_1"}

		first := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
		head := e.head()
		e.clock.set(start.Add(3600e9)) // a retry an hour later changes nothing
		again := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
		assert.JSONEq(t, string(first.Body), string(again.Body))
		for _, h := range []string{"ETag", api.HeaderPosition, "Location"} {
			assert.Equal(t, first.Header.Get(h), again.Header.Get(h), h)
		}
		assert.Equal(t, "true", again.Header.Get(api.HeaderReplayed))
		assert.Empty(t, first.Header.Get(api.HeaderReplayed))
		assert.Equal(t, head, e.head(), "a replay appends nothing")

		reused := e.must(http.StatusUnprocessableEntity, tok, path, map[string]any{"amount": money("99.00", "USD"), "method": "card"}, api.HeaderIdempotencyKey, key)
		assert.Equal(t, "/problems/idempotency-key-reused", reused.JSON(t)["type"])
		e.must(http.StatusUnprocessableEntity, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key) // another path
		assert.Equal(t, head, e.head())

		other := e.token("other-tenant") // keys are per tenant
		e.must(http.StatusCreated, other, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
	})
}

// TestFailedRequestReleasesItsKey: a key whose command was refused may be used again.
func TestFailedRequestReleasesItsKey(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		key := uuid.NewString()
		e.must(http.StatusNotFound, tok, "/v1/plans/fiber_100/retire", nil, api.HeaderIdempotencyKey, key)
		e.definePlan(tok, "fiber_100", "79.99")
		e.must(http.StatusOK, tok, "/v1/plans/fiber_100/retire", nil, api.HeaderIdempotencyKey, key)
		e.must(http.StatusOK, tok, "/v1/plans/fiber_100/retire", nil, api.HeaderIdempotencyKey, key) // now a replay
	})
}

// TestConcurrentRequestsWithOneKeyRunOnce: requests racing with the same key run the command
// once; every other one gets the same response (or 409 while it runs).
func TestConcurrentRequestsWithOneKeyRunOnce(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		key := uuid.NewString()
		const racers = 8
		var wg sync.WaitGroup
		results := make([]resp, racers)
		for i := range racers {
			wg.Go(func() { results[i] = e.post(tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key) })
		}
		wg.Wait()
		var id string
		for _, r := range results {
			if r.Status == http.StatusConflict && e.claims { // recorded with the events, a key never makes a request wait
				assert.Equal(t, "/problems/idempotency-key-in-progress", r.JSON(t)["type"])
				continue
			}
			require.Equal(t, http.StatusCreated, r.Status, string(r.Body))
			if id == "" {
				id = r.str(t, "id")
			}
			assert.Equal(t, id, r.str(t, "id"))
		}
		envs, err := e.store.ReadAll(context.Background(), 0, 100)
		require.NoError(t, err)
		assert.Len(t, envs, 1, "one customer registered")
	})
}

// TestRetryAfterACrashRecoversTheAnswer: a command that appended but whose process died before
// it stored its answer is not run twice: the retry (once the claim lapsed) finds its events
// and answers with the same id.
func TestRetryAfterACrashRecoversTheAnswer(t *testing.T) {
	t.Parallel()
	e := newClaimsEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	path := "/v1/customers/" + customer + "/payments"
	body := `{"amount": {"amount": "10.00", "currency": "USD"}, "method": "card"}`
	key := uuid.NewString()

	// The dead process: it claimed the key and recorded the payment, then stopped.
	keys := pgstore.NewKeys(e.pool, pgstore.KeysConfig{})
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	req := e.request(call{path: path, body: body})
	claim, err := keys.Claim(context.Background(), tenant, key, api.RequestHash(req, []byte(body)))
	require.NoError(t, err)
	cid, err := domain.ParseCustomerID(customer)
	require.NoError(t, err)
	amount, err := domain.ParseMoney("10.00", "USD")
	require.NoError(t, err)
	done, err := e.handlers.RecordPayment(context.Background(), commands.Meta{Tenant: tenant, CommandID: claim.CommandID},
		commands.RecordPayment{CustomerID: cid, Amount: amount, Method: domain.PaymentMethodCard})
	require.NoError(t, err)
	require.NoError(t, keys.Release(context.Background(), tenant, key, claim.CommandID, false)) // as if its lease ran out
	head := e.head()

	r := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
	assert.Equal(t, done.ID, r.str(t, "id"), "the same payment")
	assert.Equal(t, head, e.head(), "nothing appended again")
	replay := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
	assert.Equal(t, "true", replay.Header.Get(api.HeaderReplayed))
}

// TestRetryAfterACrashOnABusyStream: a lapsed claim's retry finds its payment after more than
// the last 500 events of a busy customer's stream (other payments during the claim's lease)
// and answers with it, instead of an error for a payment the ledger recorded.
func TestRetryAfterACrashOnABusyStream(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		customer := e.registerCustomer(tok)
		path := "/v1/customers/" + customer + "/payments"
		body := `{"amount": {"amount": "10.00", "currency": "USD"}, "method": "card"}`
		key := uuid.NewString()
		first := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
		e.lapseStoredAnswer("acme", key)

		tenant, err := domain.ParseTenantID("acme")
		require.NoError(t, err)
		cid, err := domain.ParseCustomerID(customer)
		require.NoError(t, err)
		amount, err := domain.ParseMoney("1.00", "USD")
		require.NoError(t, err)
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for range 1100 / 8 {
					_, err := e.handlers.RecordPayment(context.Background(), commands.Meta{Tenant: tenant, Actor: fmt.Sprint("worker ", w)},
						commands.RecordPayment{CustomerID: cid, Amount: amount, Method: domain.PaymentMethodCash})
					assert.NoError(t, err)
				}
			})
		}
		wg.Wait()
		head := e.head()

		again := e.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, key)
		assert.JSONEq(t, string(first.Body), string(again.Body))
		assert.Equal(t, head, e.head(), "nothing appended again")
	})
}

// TestEveryEndpointRecoversItsFirstAnswer: for every endpoint, a command whose process died
// after its events were appended and before its answer was stored (its claim lapsed with
// nothing stored) is answered on retry with what the first request was answered, rebuilt from
// its events (Meta.Recovering): the same status, body, ETag, Location and position, and nothing
// appended again.
func TestEveryEndpointRecoversItsFirstAnswer(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		walkEveryEndpoint(t, e, tok, func(op string, status int, path string, body any) resp {
			t.Helper()
			key := uuid.NewString()
			first := e.must(status, tok, path, body, api.HeaderIdempotencyKey, key)
			head := e.head()
			e.lapseStoredAnswer("acme", key)
			again := e.must(status, tok, path, body, api.HeaderIdempotencyKey, key)
			assert.JSONEq(t, string(first.Body), string(again.Body), "%s: the recovered body", op)
			for _, h := range []string{"ETag", "Location", api.HeaderPosition} {
				assert.Equal(t, first.Header.Get(h), again.Header.Get(h), "%s: the recovered %s", op, h)
			}
			assert.Equal(t, head, e.head(), "%s: nothing appended again", op)
			return first
		})
	})
}

// lapseStoredAnswer turns tenant's key, once its answer is stored, back into a claim whose
// lease ran out with nothing stored: what a process leaves that died between its append and
// storing the answer.
//
// With the key recorded with the events there is nothing to lapse: nothing is stored after
// the answer, so a process dying after its append leaves what one answering leaves.
func (e *env) lapseStoredAnswer(tenant, key string) {
	e.t.Helper()
	if !e.claims {
		return
	}
	ctx := context.Background()
	require.Eventually(e.t, func() bool {
		var status int
		err := e.pool.QueryRow(ctx, `SELECT status FROM cmd_idempotency WHERE tenant = $1 AND key = $2`, tenant, key).Scan(&status)
		return err == nil && status != 0
	}, 10*time.Second, 5*time.Millisecond, "the answer under %s is stored", key)
	_, err := e.pool.Exec(ctx, `UPDATE cmd_idempotency
		SET status = 0, response_headers = NULL, response_body = NULL, completed_at = NULL, locked_until = now() - interval '1 second'
		WHERE tenant = $1 AND key = $2`, tenant, key)
	require.NoError(e.t, err)
}

// TestEventMetadata: events carry the tenant, the token subject, the request and correlation
// ids, the command id and the idempotency key.
func TestEventMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	key := uuid.NewString()
	r := e.must(http.StatusCreated, e.token("acme"), "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key,
		"X-Request-Id", "req-42", "X-Correlation-Id", "corr-7")
	envs, err := e.store.ReadAll(context.Background(), 0, 10)
	require.NoError(t, err)
	require.Len(t, envs, 1)
	md := envs[0].Metadata
	assert.Equal(t, "acme", md.TenantID)
	assert.Equal(t, "tester", md.Actor)
	assert.Equal(t, "req-42", md.RequestID)
	assert.Equal(t, "req-42", md.CausationID)
	assert.Equal(t, "corr-7", md.CorrelationID)
	assert.Equal(t, key, md.IdempotencyKey)
	assert.NotEmpty(t, md.CommandID)
	assert.Equal(t, "req-42", r.Header.Get("X-Request-Id"))
	assert.Equal(t, "t-acme/customer-"+r.str(t, "id"), envs[0].StreamID)
}
