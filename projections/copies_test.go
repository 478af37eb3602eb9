package projections_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx/openapitest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

var adminDoc = openapitest.New(projections.AdminOpenAPI.JSON)

// TestAdminOpenAPIDocumentsEveryRoute: the admin API's document has exactly the routes Routes
// mounts (and /openapi.json and the audit package's signing route, which cmd/dotmac mounts
// beside them; cmd/dotmac's TestForeignTenantSeesNothing calls every route of the document on
// the real admin listener).
func TestAdminOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	r := mux.NewRouter()
	r.Handle("/openapi.json", projections.AdminOpenAPI).Methods(http.MethodGet, http.MethodHead)
	// audit.CheckpointRoutes, mounted by cmd/dotmac:
	r.Handle("/v1/audit/checkpoints", http.NotFoundHandler()).Methods(http.MethodPost)
	(&projections.Runtime{}).Routes(r, nil) // walking routes calls no handler
	adminDoc.CheckRoutes(t, r)
}

func schemaExists(t *testing.T, e *env, name string) bool {
	t.Helper()
	var ok bool
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, name).Scan(&ok))
	return ok
}

func dropSchemasAtEnd(t *testing.T, e *env, names ...string) {
	t.Helper()
	t.Cleanup(func() {
		for _, n := range names {
			_, _ = e.pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{n}.Sanitize()+` CASCADE`)
		}
	})
}

// TestCopiesCappedListedDropped: as-of copies are capped (a copy beyond MaxCopies is refused
// naming the cap and how to drop one, and creates nothing), listed with who made them, as of
// what, their status and size, and dropped: the schema and its catalog row go. A name the
// catalog does not know (the application schema, a live build, public, an invalid name) is
// never dropped.
func TestCopiesCappedListedDropped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 200, 4, nil)
	opts := testOptions()
	opts.MaxCopies = 2
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, opts)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	ctx := context.Background()
	c1, c2, c3 := e.app+"_c1", e.app+"_c2", e.app+"_c3"
	dropSchemasAtEnd(t, e, c1, c2, c3)

	_, err := rt.Rebuild(ctx, "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 50}, Into: c1, By: "alice"})
	require.NoError(t, err)
	_, err = rt.Rebuild(ctx, "counter", projections.RebuildOptions{Into: c2, By: "cli:bob"})
	require.NoError(t, err)
	_, err = rt.Rebuild(ctx, "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 60}, Into: c3})
	require.ErrorIs(t, err, projections.ErrTooManyCopies)
	assert.Contains(t, err.Error(), "2 exist and the cap (--max-copies, DOTMAC_MAX_ASOF_COPIES) is 2")
	assert.Contains(t, err.Error(), "dotmac projections drop-copy NAME")
	assert.False(t, schemaExists(t, e, c3), "a refused copy creates nothing")

	cs, err := rt.Copies(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	assert.Equal(t, c1, cs[0].Name)
	assert.Equal(t, "counter", cs[0].Projection)
	assert.Equal(t, "50", cs[0].AsOf)
	assert.EqualValues(t, 50, cs[0].Target)
	assert.Equal(t, "alice", cs[0].CreatedBy)
	assert.Equal(t, "done", cs[0].Status)
	var exact int64
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+qualify(c1, "stream_counts")+`) + (SELECT count(*) FROM `+
		qualify(c1, "applied")+`)`).Scan(&exact))
	assert.Equal(t, exact, cs[0].Rows, "the copy is analyzed: its row count is exact")
	assert.Greater(t, exact, int64(50), "50 positions applied, and the streams counted")
	assert.Positive(t, cs[0].Bytes)
	assert.Equal(t, c2, cs[1].Name)
	assert.Equal(t, "the head", cs[1].AsOf)
	assert.EqualValues(t, 200, cs[1].Target)
	assert.Equal(t, "cli:bob", cs[1].CreatedBy)
	assert.False(t, cs[1].CreatedAt.Before(cs[0].CreatedAt))

	live := status(t, rt, "counter").LiveBuild
	for _, name := range []string{e.app, live, "public", "pg_catalog", "Bad-Name", e.app + "_never_made"} {
		err := rt.DropCopy(ctx, name)
		require.ErrorIs(t, err, projections.ErrUnknownCopy, name)
		assert.Contains(t, err.Error(), "only copies can be dropped")
	}
	assert.True(t, schemaExists(t, e, e.app))
	assert.True(t, schemaExists(t, e, live))
	assert.True(t, schemaExists(t, e, "public"))

	require.NoError(t, rt.DropCopy(ctx, c1))
	assert.False(t, schemaExists(t, e, c1), "the schema is dropped")
	var rows int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM projection_copies WHERE schema_name = $1`, c1).Scan(&rows))
	assert.Zero(t, rows, "and the catalog row")
	require.ErrorIs(t, rt.DropCopy(ctx, c1), projections.ErrUnknownCopy, "dropped once")

	_, err = rt.Rebuild(ctx, "counter", projections.RebuildOptions{AsOf: &projections.AsOf{Position: 60}, Into: c3})
	require.NoError(t, err, "below the cap again")

	// A copy's schema dropped by hand is listed as missing until the copy is dropped.
	_, err = e.pool.Exec(ctx, `DROP SCHEMA `+c2+` CASCADE`)
	require.NoError(t, err)
	cs, err = rt.Copies(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	assert.Equal(t, "missing", cs[0].Status)
	assert.Zero(t, cs[0].Rows)
	require.NoError(t, rt.DropCopy(ctx, c2))
	cs, err = rt.Copies(ctx)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	assert.Equal(t, c3, cs[0].Name)
}

// TestCopiesHTTP: the copy catalog's admin routes, for operator tokens only: the list (with
// the cap), a copy beyond the cap (409 too-many-copies), a drop (204, then 404), a drop of a
// schema that is not a copy (404, the schema kept); a tenant's * token gets 403 on each. Every
// answer is one the admin OpenAPI document allows.
func TestCopiesHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 100, 4, nil)
	opts := testOptions()
	opts.MaxCopies = 1
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, opts)
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	first, second := e.app+"_h1", e.app+"_h2"
	dropSchemasAtEnd(t, e, first, second)

	key, err := auth.HS256([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	router := mux.NewRouter()
	rt.Routes(router, key)
	srv := httptest.NewServer(router)
	defer srv.Close()
	op, err := key.Mint(auth.Principal{Subject: "ops-ann", Operator: true, Permissions: []string{auth.ProjectionsRead, auth.ProjectionsRebuild}}, time.Now(), time.Hour)
	require.NoError(t, err)
	tenant, err := key.Mint(auth.Principal{Subject: "mallory", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	call := func(method, path, tok, body string) (int, map[string]any) {
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		raw, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		adminDoc.ValidateResponse(t, req, res.StatusCode, res.Header, raw)
		var out map[string]any
		if len(raw) > 0 {
			require.NoError(t, json.Unmarshal(raw, &out), "%s", raw)
		}
		return res.StatusCode, out
	}

	code, out := call(http.MethodPost, "/v1/projections/counter/rebuild", op, `{"as_of":"40","into":"`+first+`"}`)
	require.Equal(t, http.StatusAccepted, code, "%v", out)
	eventually(t, 30*time.Second, "the copy is done", func() bool {
		_, out := call(http.MethodGet, "/v1/projection-copies", op, "")
		cs, _ := out["copies"].([]any)
		c, _ := cs[0].(map[string]any)
		return len(cs) == 1 && c["status"] == "done"
	})
	_, out = call(http.MethodGet, "/v1/projection-copies", op, "")
	assert.EqualValues(t, 1, out["max_copies"])
	cs, ok := out["copies"].([]any)
	require.True(t, ok)
	c, ok := cs[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, first, c["name"])
	assert.Equal(t, "ops-ann", c["created_by"], "who asked: the operator token's subject")
	assert.Equal(t, "40", c["as_of"])

	code, out = call(http.MethodPost, "/v1/projections/counter/rebuild", op, `{"as_of":"50","into":"`+second+`"}`)
	assert.Equal(t, http.StatusConflict, code)
	assert.Equal(t, "/problems/too-many-copies", out["type"])
	assert.Contains(t, out["detail"], "is 1")

	for _, c := range []struct{ method, path, body string }{
		{http.MethodGet, "/v1/projection-copies", ""},
		{http.MethodDelete, "/v1/projection-copies/" + first, ""},
	} {
		code, out := call(c.method, c.path, tenant, c.body)
		assert.Equal(t, http.StatusForbidden, code, "a tenant's * token: %s %s", c.method, c.path)
		assert.Equal(t, "/problems/operators-only", out["type"])
	}
	code, out = call(http.MethodDelete, "/v1/projection-copies/"+e.app, op, "")
	assert.Equal(t, http.StatusNotFound, code, "the application schema is no copy: %v", out)
	assert.True(t, schemaExists(t, e, e.app))

	code, _ = call(http.MethodDelete, "/v1/projection-copies/"+first, op, "")
	assert.Equal(t, http.StatusNoContent, code)
	assert.False(t, schemaExists(t, e, first))
	code, _ = call(http.MethodDelete, "/v1/projection-copies/"+first, op, "")
	assert.Equal(t, http.StatusNotFound, code)
	_, out = call(http.MethodGet, "/v1/projection-copies", op, "")
	assert.Empty(t, out["copies"])
}
