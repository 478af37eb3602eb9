package readapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/httpx/openapitest"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
	"github.com/dotmac/ledger/readapi"
)

// id is the fixture's id n (readmodeltest.FixtureID).
func id(n int) string { return readmodeltest.FixtureID(n) }

// fixedNow is the clock of the tests' API ("today" for the AR aging report).
var fixedNow = time.Date(2026, 3, 15, 12, 0, 0, 0, time.UTC)

// env is a query API over read models built (in a schema of the test's own) from a history.
type env struct {
	t       testing.TB
	pool    *pgxpool.Pool
	key     *auth.Key
	pos     *fakePositions
	handler http.Handler
	events  []projections.Event
}

// newEnv builds every read model from evs (the fixture when nil) and serves the API over
// them, with every projection at the last event's position.
func newEnv(t testing.TB, evs []projections.Event) *env {
	t.Helper()
	if evs == nil {
		var err error
		evs, err = readmodeltest.Fixture()
		require.NoError(t, err)
	}
	ctx := context.Background()
	pool := pgtest.Pool(t)
	require.NoError(t, readmodeltest.Setup(ctx, pool, readmodel.All()))
	require.NoError(t, readmodeltest.Apply(ctx, pool, readmodel.All(), evs, 5000))
	e := &env{t: t, pool: pool, key: testKey(t), events: evs,
		pos: newFakePositions(eventstore.Position(len(evs)))}
	e.handler = e.serve(readapi.Config{DB: pool, Auth: e.key, Positions: e.pos, Now: func() time.Time { return fixedNow }})
	return e
}

// serve mounts an API with cfg on a router like the query server's (serve.go).
func (e *env) serve(cfg readapi.Config) http.Handler {
	e.t.Helper()
	api, err := readapi.New(cfg)
	require.NoError(e.t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	api.Mount(r)
	return httpx.Observe(zerolog.Nop(), httpx.NewHTTPMetrics(prometheus.NewRegistry(), "query"), r)
}

func testKey(t testing.TB) *auth.Key {
	t.Helper()
	k, err := auth.HS256([]byte("readapi-test-secret-readapi-test-secret"))
	require.NoError(t, err)
	return k
}

// token mints a token for tenant with perms (every permission when none).
func (e *env) token(tenant string, perms ...string) string {
	e.t.Helper()
	if len(perms) == 0 {
		perms = []string{auth.All}
	}
	tok, err := e.key.Mint(auth.Principal{Subject: "test", Tenant: tenant, Permissions: perms}, time.Now(), time.Hour)
	require.NoError(e.t, err)
	return tok
}

// resp is an answer.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// json decodes the body into a generic value.
func (r resp) json(t testing.TB) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &v), string(r.Body))
	return v
}

// get calls GET path with token tok and headers (name, value, ...), and checks the answer
// against the OpenAPI document.
func (e *env) get(tok, path string, header ...string) resp {
	e.t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	e.handler.ServeHTTP(w, req)
	body, _ := io.ReadAll(w.Result().Body)
	r := resp{Status: w.Code, Header: w.Header(), Body: body}
	validateResponse(e.t, req, r)
	return r
}

// ok calls get and requires a 200.
func (e *env) ok(tok, path string, header ...string) resp {
	e.t.Helper()
	r := e.get(tok, path, header...)
	require.Equal(e.t, http.StatusOK, r.Status, "GET %s: %s", path, r.Body)
	return r
}

// fakePositions is a projection runtime stand-in: every projection is at one position,
// which tests move.
type fakePositions struct {
	mu      sync.Mutex
	at      eventstore.Position
	changed chan struct{}
}

func newFakePositions(at eventstore.Position) *fakePositions {
	return &fakePositions{at: at, changed: make(chan struct{})}
}

func (f *fakePositions) set(p eventstore.Position) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.at = p
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakePositions) WaitForTenant(ctx context.Context, _, _ string, pos eventstore.Position) (eventstore.Position, error) {
	for {
		f.mu.Lock()
		at, changed := f.at, f.changed
		f.mu.Unlock()
		if at >= pos {
			return at, nil
		}
		select {
		case <-ctx.Done():
			return at, ctx.Err()
		case <-changed:
		}
	}
}

// apiDoc is the query API's OpenAPI document.
var apiDoc = openapitest.New(readapi.OpenAPI)

// validateResponse fails t unless r is a response the OpenAPI document allows for req (the
// document itself and 404s outside /v1/ aside).
func validateResponse(t testing.TB, req *http.Request, r resp) {
	t.Helper()
	if strings.HasPrefix(req.URL.Path, "/openapi.json") || r.Status == http.StatusNotFound && !strings.HasPrefix(req.URL.Path, "/v1/") {
		return
	}
	apiDoc.ValidateResponse(t, req, r.Status, r.Header, r.Body)
}
