package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/httpx/openapitest"
	"github.com/dotmac/ledger/internal/pgtest"
)

// start is the instant the test clock starts at: 2026-01-10 09:00 UTC.
var start = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

// clock is an adjustable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) set(t time.Time) { c.ns.Store(t.UnixNano()) }

// env is one command API over its own PostgreSQL schema.
type env struct {
	t        testing.TB
	pool     *pgxpool.Pool
	store    *postgres.Store
	key      *auth.Key
	clock    *clock
	registry *prometheus.Registry
	handlers *commands.Handlers
	handler  http.Handler
	// validate checks every response against the OpenAPI document (off in benchmarks).
	validate bool
	// providers are the payment-provider accounts of callbacks (nil: none).
	providers *providers.Registry
	// claims runs the API as over an event store that does not record idempotency keys with
	// its appends (KurrentDB): each key is claimed before its command and completed after.
	claims bool
}

// claimsOnly is a PostgreSQL event store that says it records no keys, as KurrentDB.
type claimsOnly struct{ *postgres.Store }

func (claimsOnly) RecordsKeys() bool { return false }

// newClaimsEnv is newEnv with claims set.
func newClaimsEnv(t testing.TB) *env {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	e := &env{t: t, pool: pool, store: store, key: testKey, clock: newClock(start), validate: true, claims: true}
	e.handlers, e.handler, e.registry = e.newProcess(store)
	return e
}

// modes runs test with the idempotency keys recorded with the events, and claimed apart.
func modes(t *testing.T, test func(t *testing.T, newEnv func(testing.TB) *env)) {
	t.Run("keys with the events", func(t *testing.T) {
		t.Parallel()
		test(t, newEnv)
	})
	t.Run("claims", func(t *testing.T) {
		t.Parallel()
		test(t, newClaimsEnv)
	})
}

var testKey = func() *auth.Key {
	k, err := auth.HS256([]byte("0123456789abcdef0123456789abcdef-test"))
	if err != nil {
		panic(err)
	}
	return k
}()

// newEnv returns a command API over a fresh schema.
func newEnv(t testing.TB) *env {
	t.Helper()
	return newEnvOn(t, pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet()))
}

// newEnvOn returns a command API over pool, migrated.
func newEnvOn(t testing.TB, pool *pgxpool.Pool) *env {
	t.Helper()
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	e := &env{t: t, pool: pool, store: store, key: testKey, clock: newClock(start), validate: true}
	e.handlers, e.handler, e.registry = e.newProcess(store)
	return e
}

// newProcess builds another command API over the same database, as a second process would
// (its own state cache and stream locks) over store.
func (e *env) newProcess(store eventstore.Store) (*commands.Handlers, http.Handler, *prometheus.Registry) {
	e.t.Helper()
	reg := prometheus.NewRegistry()
	opts := pgstore.Options{AsyncCommit: true}
	if pg, ok := store.(*postgres.Store); ok && e.claims {
		store = claimsOnly{pg}
	}
	h, err := commands.New(commands.Config{Store: store, Numbers: pgstore.NewNumbers(e.pool, opts),
		Index: pgstore.NewIndex(e.pool, store), Now: e.clock.Now, Registerer: reg})
	require.NoError(e.t, err)
	a, err := api.New(api.Config{Handlers: h, Keys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{Options: opts}), Auth: e.key,
		Providers: e.providers, Registerer: reg})
	require.NoError(e.t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	return h, httpx.Observe(zerolog.Nop(), nil, r), reg
}

// token mints a token of tenant with perms (all permissions when none are given).
func (e *env) token(tenant string, perms ...string) string {
	e.t.Helper()
	if len(perms) == 0 {
		perms = []string{auth.All}
	}
	tok, err := e.key.Mint(auth.Principal{Subject: "tester", Tenant: tenant, Permissions: perms}, time.Now(), time.Hour)
	require.NoError(e.t, err)
	return tok
}

// resp is a response as the tests look at it.
type resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a map.
func (r resp) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.Body, &m), string(r.Body))
	return m
}

// str returns the string member name of the body.
func (r resp) str(t testing.TB, name string) string {
	t.Helper()
	s, ok := r.JSON(t)[name].(string)
	require.True(t, ok, "%s is not a string in %s", name, r.Body)
	return s
}

// fields lists the fields a 400 problem names.
func (r resp) fields(t testing.TB) []string {
	t.Helper()
	var p httpx.Problem
	require.NoError(t, json.Unmarshal(r.Body, &p))
	out := make([]string, 0, len(p.Errors))
	for _, fe := range p.Errors {
		out = append(out, fe.Field)
	}
	return out
}

// call is one request.
type call struct {
	method string
	path   string
	token  string
	body   any               // string: raw; else marshaled
	header map[string]string // Idempotency-Key is added unless set ("-" removes it)
}

func (e *env) do(c call) resp {
	e.t.Helper()
	req := e.request(c)
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	out := resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	if e.validate {
		validateResponse(e.t, req, out)
	}
	return out
}

func (e *env) request(c call) *http.Request {
	e.t.Helper()
	var body io.Reader = http.NoBody
	switch b := c.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		require.NoError(e.t, err)
		body = bytes.NewReader(raw)
	}
	method := c.method
	if method == "" {
		method = http.MethodPost
	}
	req := httptest.NewRequestWithContext(context.Background(), method, c.path, body)
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	req.Header.Set(api.HeaderIdempotencyKey, uuid.NewString())
	for k, v := range c.header {
		if v == "-" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	return req
}

// post sends body to path with tok.
func (e *env) post(tok, path string, body any, header ...string) resp {
	e.t.Helper()
	c := call{path: path, token: tok, body: body, header: map[string]string{}}
	for i := 0; i+1 < len(header); i += 2 {
		c.header[header[i]] = header[i+1]
	}
	return e.do(c)
}

// must posts and requires status.
func (e *env) must(status int, tok, path string, body any, header ...string) resp {
	e.t.Helper()
	r := e.post(tok, path, body, header...)
	require.Equal(e.t, status, r.Status, "POST %s: %s", path, r.Body)
	return r
}

// apiDoc is the command API's OpenAPI document.
var apiDoc = openapitest.New(api.OpenAPI)

// validateResponse fails t unless r is a response the OpenAPI document allows for req.
func validateResponse(t testing.TB, req *http.Request, r resp) {
	t.Helper()
	apiDoc.ValidateResponse(t, req, r.Status, r.Header, r.Body)
}
