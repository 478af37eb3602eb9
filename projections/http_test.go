package projections_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestAdminHTTP: the admin routes, for operator tokens only, list and show projections
// (projections:read), start a rebuild (projections:rebuild: 202 with a status URL whose
// progress ends in a swap), retry stalled tenants (projections:rebuild), and answer problems for unknown names, missing permissions, bad
// requests and tenant tokens.
func TestAdminHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 300, 4, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	key, err := auth.HS256([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	router := mux.NewRouter()
	rt.Routes(router, key)
	srv := httptest.NewServer(router)
	defer srv.Close()
	token := func(perms ...string) string {
		tok, err := key.Mint(auth.Principal{Subject: "op", Operator: true, Permissions: perms}, time.Now(), time.Hour)
		require.NoError(t, err)
		return tok
	}
	reader, rebuilder := token(auth.ProjectionsRead), token(auth.ProjectionsRead, auth.ProjectionsRebuild)
	call := func(method, path, tok, body string) (*http.Response, map[string]any) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return res, out
	}

	res, out := call(http.MethodGet, "/v1/projections", reader, "")
	require.Equal(t, http.StatusOK, res.StatusCode)
	list, ok := out["projections"].([]any)
	require.True(t, ok)
	require.Len(t, list, 1)
	first, ok := list[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, "counter", first["name"])
	assert.Equal(t, "running", first["state"])
	assert.EqualValues(t, 300, first["position"])

	res, _ = call(http.MethodGet, "/v1/projections", "", "")
	assert.Equal(t, http.StatusUnauthorized, res.StatusCode)
	res, out = call(http.MethodGet, "/v1/projections/nope", reader, "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)
	assert.Equal(t, httpx.ProblemContentType, res.Header.Get("Content-Type"))
	assert.Equal(t, "/problems/not-found", out["type"])
	res, out = call(http.MethodPost, "/v1/projections/counter/rebuild", reader, "")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, auth.ProjectionsRebuild, out["permission"])
	res, _ = call(http.MethodPost, "/v1/projections/counter/rebuild", rebuilder, `{"as_of":"5"}`)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "as-of needs into")
	res, _ = call(http.MethodPost, "/v1/projections/counter/rebuild", rebuilder, `{"as_of":"last week","into":"x"}`)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode)
	res, out = call(http.MethodPost, "/v1/projections/counter/rebuild", rebuilder, `{"as_of":"5","as_of_by":"recorded","into":"x"}`)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "as_of_by goes with a date only: %v", out)
	res, out = call(http.MethodPost, "/v1/projections/counter/rebuild", rebuilder, `{"as_of":"2026-03-31","into":"x"}`)
	assert.Equal(t, http.StatusBadRequest, res.StatusCode, "counter does not go by business date: %v", out)

	tenant, err := key.Mint(auth.Principal{Subject: "mallory", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/projections", ""},
		{http.MethodGet, "/v1/projections/counter", ""},
		{http.MethodPost, "/v1/projections/counter/rebuild", ""},
		{http.MethodPost, "/v1/projections/counter/rebuild", `{"as_of":"5","into":"stolen"}`},
		{http.MethodPost, "/v1/projections/counter/retry", `{"tenants":["acme"]}`},
	} {
		res, out = call(c.method, c.path, tenant, c.body)
		assert.Equal(t, http.StatusForbidden, res.StatusCode, "a tenant's * token: %s %s %s", c.method, c.path, c.body)
		assert.Equal(t, "/problems/operators-only", out["type"], "%s %s", c.method, c.path)
		assert.NotContains(t, out, "projections")
	}
	assert.Empty(t, status(t, rt, "counter").Building, "no tenant's rebuild or copy started")

	res, out = call(http.MethodPost, "/v1/projections/counter/retry", reader, "")
	assert.Equal(t, http.StatusForbidden, res.StatusCode)
	assert.Equal(t, auth.ProjectionsRebuild, out["permission"])
	res, out = call(http.MethodPost, "/v1/projections/counter/retry", rebuilder, "")
	require.Equal(t, http.StatusOK, res.StatusCode, "%v", out)
	assert.Equal(t, []any{}, out["results"], "nothing stalled: nothing retried")
	res, _ = call(http.MethodPost, "/v1/projections/nope/retry", rebuilder, "")
	assert.Equal(t, http.StatusNotFound, res.StatusCode)

	before := status(t, rt, "counter").LiveBuild
	res, out = call(http.MethodPost, "/v1/projections/counter/rebuild", rebuilder, "")
	require.Equal(t, http.StatusAccepted, res.StatusCode)
	assert.Equal(t, "/v1/projections/counter", res.Header.Get("Location"))
	assert.Equal(t, "/v1/projections/counter", out["status_url"])
	build, ok := out["build"].(string)
	require.True(t, ok)
	assert.NotEqual(t, before, build)
	eventually(t, 30*time.Second, "the rebuild swaps", func() bool {
		_, st := call(http.MethodGet, "/v1/projections/counter", reader, "")
		return st["live_build"] == build
	})
	_, st := call(http.MethodGet, "/v1/projections/counter", reader, "")
	assert.Nil(t, st["building"])
	assert.EqualValues(t, 1, st["version"])
}

// TestAdminHTTPRetry: an operator sees a tenant stall (tenant, position, error id, error) in
// GET /v1/projections/{name}, and POST /v1/projections/{name}/retry replays the tenant after the
// fix: the stall is cleared and the tenant's rows are complete.
func TestAdminHTTPRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var refuse atomic.Bool
	refuse.Store(true)
	interleave(t, e.store, 30, func(i int) bool { return i == 9 }) // acme's 10th event, position 19
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1, refuse: refuse.Load}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)

	key, err := auth.HS256([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	router := mux.NewRouter()
	rt.Routes(router, key)
	srv := httptest.NewServer(router)
	defer srv.Close()
	op, err := key.Mint(auth.Principal{Subject: "op", Operator: true, Permissions: []string{auth.ProjectionsRead, auth.ProjectionsRebuild}}, time.Now(), time.Hour)
	require.NoError(t, err)
	call := func(method, path, body string) map[string]any {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+op)
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode)
		var out map[string]any
		require.NoError(t, json.NewDecoder(res.Body).Decode(&out))
		return out
	}
	st := call(http.MethodGet, "/v1/projections/counter", "")
	assert.EqualValues(t, 1, st["stalled_tenant_count"])
	stalls, ok := st["stalled_tenants"].([]any)
	require.True(t, ok, "%v", st)
	require.Len(t, stalls, 1)
	stall, ok := stalls[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, "acme", stall["tenant"])
	assert.EqualValues(t, 19, stall["position"])
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, stall["error_id"])
	assert.Contains(t, stall["error"], "boom")

	refuse.Store(false)
	out := call(http.MethodPost, "/v1/projections/counter/retry", `{"tenants":["acme"]}`)
	results, ok := out["results"].([]any)
	require.True(t, ok, "%v", out)
	require.Len(t, results, 1)
	first, ok := results[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, true, first["cleared"])
	st = call(http.MethodGet, "/v1/projections/counter", "")
	assert.EqualValues(t, 0, st["stalled_tenant_count"])
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(60))
}
