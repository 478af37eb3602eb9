package api_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/internal/httpx"
)

// TestBillingRunPostIsNotTheForegrounds: POST /v1/billing-runs waits for its run, so it marks
// itself as waiting for background work and the elastic controller does not take its latency
// for the portal's; following the run (GET) is an ordinary request.
func TestBillingRunPostIsNotTheForegrounds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	billedTenant(e, tok, 2)
	h, err := commands.New(commands.Config{Store: e.store, Numbers: pgstore.NewNumbers(e.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(e.pool, e.store), Now: e.clock.Now, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	a, err := api.New(api.Config{Handlers: h, Keys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{}), Auth: e.key,
		Background: context.Background(), BillingWait: time.Minute})
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	var mu sync.Mutex
	waits := map[string]bool{}
	spy := http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.ServeHTTP(w, req)
		mu.Lock()
		defer mu.Unlock()
		waits[req.Method] = httpx.InfoFrom(req.Context()).WaitsForBackground
	})
	p := *e
	p.handlers, p.handler = h, httpx.Observe(zerolog.Nop(), nil, spy)

	p.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	assert.Equal(t, "completed", p.awaitRun(tok, "2026-01")["status"])
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, map[string]bool{http.MethodPost: true, http.MethodGet: false}, waits)
}
