package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
)

// count returns the rows of table.
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	require.NoError(e.t, e.pool.QueryRow(context.Background(), `SELECT count(*) FROM `+table).Scan(&n))
	return n
}

// TestKeysGoWithTheEvents: over PostgreSQL a command's key is recorded with its events, in
// their transaction: no claim, no completion, nothing in cmd_idempotency.
func TestKeysGoWithTheEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	key := uuid.NewString()
	customer := e.must(http.StatusCreated, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key).str(t, "id")
	e.must(http.StatusCreated, tok, "/v1/customers", customerBody(), api.HeaderIdempotencyKey, key)
	assert.Zero(t, e.count("cmd_idempotency"), "no claim, no completion")
	var stream string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT stream_id FROM es_append_keys WHERE scope = 'acme' AND key = $1`, key).Scan(&stream))
	assert.Contains(t, stream, customer, "the key names the stream its command appended to")
}

// TestAnAnswerWithoutEventsReplays: a command that changed nothing records its answer under
// its key; a retry after the state changed answers with it, and does not change the state
// back.
func TestAnAnswerWithoutEventsReplays(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		customer := e.registerCustomer(tok)
		path := "/v1/customers/" + customer + "/contact"
		ada := map[string]any{"name": "Ada King", "email": "ada@example.org", "billing_address": "2 Fiber Way, Nairobi"}
		e.must(http.StatusOK, tok, path, ada)
		key := uuid.NewString()
		unchanged := e.must(http.StatusOK, tok, path, ada, api.HeaderIdempotencyKey, key)
		moved := map[string]any{"name": "Ada King", "email": "ada@example.org", "billing_address": "3 Fiber Way, Nairobi"}
		e.must(http.StatusOK, tok, path, moved)
		head := e.head()

		again := e.must(http.StatusOK, tok, path, ada, api.HeaderIdempotencyKey, key)
		assert.JSONEq(t, string(unchanged.Body), string(again.Body))
		assert.Equal(t, unchanged.Header.Get("ETag"), again.Header.Get("ETag"))
		assert.Equal(t, "true", again.Header.Get(api.HeaderReplayed))
		assert.Equal(t, head, e.head(), "the contact is not changed back")
		e.must(http.StatusUnprocessableEntity, tok, path, moved, api.HeaderIdempotencyKey, key)
	})
}

// TestOneKeyFromTwoProcessesRunsOnce: requests with one key racing through two processes
// (each its own event store writer) register one customer, and every one of them gets its
// answer at once: no 409, no waiting for another request's lease.
func TestOneKeyFromTwoProcessesRunsOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, second, _ := e.newProcess(openStore(t, e.pool))
	tok, key := e.token("acme"), uuid.NewString()
	const racers = 12
	answers := make([]resp, racers)
	var wg sync.WaitGroup
	for i := range racers {
		handler := []http.Handler{e.handler, second}[i%2]
		wg.Go(func() {
			req := e.request(call{path: "/v1/customers", token: tok, body: customerBody(), header: map[string]string{api.HeaderIdempotencyKey: key}})
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			answers[i] = resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
		})
	}
	wg.Wait()
	replayed := 0
	for i, r := range answers {
		require.Equal(t, http.StatusCreated, r.Status, "request %d: %s", i, r.Body)
		assert.JSONEq(t, string(answers[0].Body), string(r.Body), "request %d: the one answer", i)
		assert.Equal(t, answers[0].Header.Get("Location"), r.Header.Get("Location"))
		if r.Header.Get(api.HeaderReplayed) == "true" {
			replayed++
		}
	}
	assert.Equal(t, racers-1, replayed, "one request ran the command, the others replayed it")
	var registered int
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT count(*) FROM es_events WHERE type = 'CustomerRegistered'`).Scan(&registered))
	assert.Equal(t, 1, registered)
}

// TestKeyAnsweredBeforeTheUpgradeReplays: keys a server claimed and answered before the event
// store recorded keys with the events (in cmd_idempotency) are still answered as they were,
// and a claim a dead process left lapsed is recovered from its events, by a server that
// records keys with the events.
func TestKeyAnsweredBeforeTheUpgradeReplays(t *testing.T) {
	t.Parallel()
	before := newClaimsEnv(t)
	tok := before.token("acme")
	customer := before.registerCustomer(tok)
	path := "/v1/customers/" + customer + "/payments"
	body := map[string]any{"amount": money("10.00", "USD"), "method": "card"}
	answered, lapsed := uuid.NewString(), uuid.NewString()
	first := before.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, answered)
	second := before.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, lapsed)
	require.Eventually(t, func() bool {
		var completed int
		require.NoError(t, before.pool.QueryRow(context.Background(), `SELECT count(*) FROM cmd_idempotency WHERE status > 0`).Scan(&completed))
		return completed == 3
	}, 10*time.Second, 5*time.Millisecond, "the answers are stored")
	before.lapseStoredAnswer("acme", lapsed)

	after := newEnvOn(t, before.pool) // the upgraded server
	head := after.head()
	again := after.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, answered)
	assert.JSONEq(t, string(first.Body), string(again.Body))
	assert.Equal(t, "true", again.Header.Get(api.HeaderReplayed))
	recovered := after.must(http.StatusCreated, tok, path, body, api.HeaderIdempotencyKey, lapsed)
	assert.JSONEq(t, string(second.Body), string(recovered.Body))
	after.must(http.StatusUnprocessableEntity, tok, path, map[string]any{"amount": money("99.00", "USD"), "method": "card"},
		api.HeaderIdempotencyKey, answered)
	assert.Equal(t, head, after.head(), "nothing appended again")

	after.must(http.StatusCreated, tok, path, body) // a new key goes with the events
	assert.Equal(t, 3, after.count("cmd_idempotency"), "no new claim")
}

// TestAScheduledChangeReplaysAsScheduled: a service change answered as scheduled (it takes
// effect after the day it was asked) is answered the same to a retry after that day: the
// answer is as of the first request, not rebuilt as of the retry's day.
func TestAScheduledChangeReplaysAsScheduled(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		e.definePlan(tok, "fiber_100", "79.99")
		customer := e.registerCustomer(tok)
		service := e.activeService(tok, customer, "fiber_100")
		path := "/v1/services/" + service + "/suspend"
		body := map[string]any{"reason": "requested", "effective_date": "2026-01-15"}
		key := uuid.NewString()
		first := e.must(http.StatusOK, tok, path, body, api.HeaderIdempotencyKey, key)
		assert.Equal(t, true, first.JSON(t)["scheduled"])
		head := e.head()

		e.clock.set(start.AddDate(0, 0, 10)) // the suspension has taken effect
		again := e.must(http.StatusOK, tok, path, body, api.HeaderIdempotencyKey, key)
		assert.JSONEq(t, string(first.Body), string(again.Body))
		assert.Equal(t, head, e.head())
	})
}

// TestAnAnswerNotStoredStillAnswers: a service change whose events and key were recorded, but
// whose answer could not be stored with the key after (the database refused that write),
// answers its success; a retry rebuilds the answer from its events and appends nothing.
func TestAnAnswerNotStoredStillAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	e.definePlan(tok, "fiber_100", "79.99")
	service := e.activeService(tok, e.registerCustomer(tok), "fiber_100")
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `CREATE FUNCTION refuse_answers() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN RAISE EXCEPTION 'injected' USING ERRCODE = '25006'; END $$`)
	require.NoError(t, err)
	_, err = e.pool.Exec(ctx, `CREATE TRIGGER refuse_answers BEFORE INSERT ON es_append_keys
		FOR EACH ROW WHEN (NEW.answer IS NOT NULL) EXECUTE FUNCTION refuse_answers()`)
	require.NoError(t, err)

	path := "/v1/services/" + service + "/suspend"
	body := map[string]any{"reason": "requested"}
	key := uuid.NewString()
	first := e.must(http.StatusOK, tok, path, body, api.HeaderIdempotencyKey, key)
	head := e.head()
	again := e.must(http.StatusOK, tok, path, body, api.HeaderIdempotencyKey, key)
	assert.JSONEq(t, string(first.Body), string(again.Body))
	assert.Equal(t, "true", again.Header.Get(api.HeaderReplayed))
	assert.Equal(t, head, e.head(), "nothing appended again")
}
