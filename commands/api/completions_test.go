package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/httpx"
)

// slowCompletions are idempotency keys whose completions wait until release is closed.
type slowCompletions struct {
	commands.IdempotencyKeys
	release chan struct{}
}

func (k *slowCompletions) Complete(ctx context.Context, tenant domain.TenantID, key string, id uuid.UUID, r commands.StoredResponse) error {
	<-k.release
	return k.IdempotencyKeys.Complete(ctx, tenant, key, id, r)
}

// TestWaitCompletionsWaitsForTheStoredAnswers: over an event store that does not record keys
// with the events, the answer goes out before it is stored under
// its key; WaitCompletions (a server's shutdown, once its HTTP server drained) reports the
// answers still being stored when its context ends, and returns once they are stored, after
// which a retry replays the answer.
func TestWaitCompletionsWaitsForTheStoredAnswers(t *testing.T) {
	t.Parallel()
	e := newClaimsEnv(t) // with the keys recorded with the events, nothing is stored after the answer
	keys := &slowCompletions{IdempotencyKeys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{}), release: make(chan struct{})}
	a, err := api.New(api.Config{Handlers: e.handlers, Keys: keys, Auth: e.key})
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	tok := e.token("acme")
	key := uuid.NewString()
	post := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, e.request(call{path: "/v1/customers", token: tok, body: customerBody(), header: map[string]string{api.HeaderIdempotencyKey: key}}))
		return rec
	}
	first := post()
	require.Equal(t, http.StatusCreated, first.Code, first.Body.String())

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	assert.Equal(t, int64(1), a.WaitCompletions(ctx), "the answer is still being stored")

	close(keys.release)
	assert.Zero(t, a.WaitCompletions(context.Background()))
	replay := post()
	assert.Equal(t, http.StatusCreated, replay.Code)
	assert.Equal(t, "true", replay.Header().Get(api.HeaderReplayed))
	assert.JSONEq(t, first.Body.String(), replay.Body.String())
}
