package readapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/readapi"
)

// samplePath fills a route's path variables with ids of the fixture's tenant acme.
func samplePath(path string) string {
	return strings.NewReplacer("{customer_id}", id(101), "{service_id}", id(601), "{plan_code}", "fiber_100",
		"{invoice_id}", id(204), "{payment_id}", id(303), "{credit_note_id}", id(402), "{receipt_id}", id(502)).Replace(path)
}

// Every route Mount serves is in the OpenAPI document, and every documented operation is
// served, with the operation id and permission the routing table names.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	r := mux.NewRouter()
	api, err := readapi.New(readapi.Config{DB: nil, Auth: testKey(t), Positions: newFakePositions(0)})
	require.Error(t, err, "a missing DB is refused")
	require.Nil(t, api)
	e := newEnv(t, nil)
	api, err = readapi.New(readapi.Config{DB: e.pool, Auth: e.key, Positions: e.pos})
	require.NoError(t, err)
	api.Mount(r)
	// The query server mounts the auditors' routes beside these (cmd/dotmac, queryRoutes); the
	// projection admin routes are the admin listener's (projections.AdminOpenAPI).
	audit.Routes(r, audit.New(nil), e.key)
	wh, err := webhooks.New(e.pool, nil, webhooks.Config{})
	require.NoError(t, err)
	wh.MountQueries(r, e.key)
	doc := apiDoc.CheckRoutes(t, r)
	for _, rt := range webhooks.QueryRoutes() {
		op := doc[rt.Path][strings.ToLower(rt.Method)]
		assert.Equal(t, rt.Operation, op["operationId"], rt.Path)
		assert.Contains(t, op["summary"], "Permission "+rt.Permission, rt.Path)
	}
	names := map[string]bool{}
	for _, p := range readmodel.All() {
		names[p.Name()] = true
	}
	for _, rt := range readapi.Routes() {
		op := doc[rt.Path]["get"]
		assert.Equal(t, rt.Operation, op["operationId"], rt.Path)
		assert.Contains(t, op["summary"], "Permission "+rt.Permission+".", rt.Path)
		assert.Contains(t, op["summary"], "Read model "+rt.Projection+".", rt.Path)
		assert.True(t, names[rt.Projection], "%s reads %q, which readmodel.All() does not register", rt.Path, rt.Projection)
	}
}

func TestOpenAPIIsServedWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	r := e.get("", "/openapi.json")
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, string(r.Body), `"openapi": "3.1.0"`)
}

// Every endpoint: no token or a bad one is 401, a token without its permission is 403 (also
// with every other read permission), its own permission alone is enough.
func TestEveryEndpointChecksTokenAndPermission(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	for _, rt := range readapi.Routes() {
		path := samplePath(rt.Path)
		assert.Equal(t, http.StatusUnauthorized, e.get("", path).Status, path)
		assert.Equal(t, http.StatusUnauthorized, e.get("not-a-jwt", path).Status, path)
		var others []string
		for _, p := range auth.Known {
			if p != rt.Permission && p != auth.All {
				others = append(others, p)
			}
		}
		r := e.get(e.token("acme", others...), path)
		assert.Equal(t, http.StatusForbidden, r.Status, path)
		assert.Contains(t, string(r.Body), rt.Permission, path)
		r = e.get(e.token("acme", rt.Permission), path)
		assert.Equal(t, http.StatusOK, r.Status, "%s: %s", path, r.Body)
	}
}

// Every endpoint refuses a query parameter it does not know, naming it.
func TestUnknownQueryParameterIs400(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	for _, rt := range readapi.Routes() {
		r := e.get(tok, samplePath(rt.Path)+"?colour=red")
		require.Equal(t, http.StatusBadRequest, r.Status, rt.Path)
		assert.Equal(t, "colour", fieldOf(t, r), rt.Path)
	}
}

// fieldOf returns the field the first error of a 400 names.
func fieldOf(t testing.TB, r resp) string {
	t.Helper()
	errs, _ := r.json(t)["errors"].([]any)
	require.NotEmpty(t, errs, string(r.Body))
	first, _ := errs[0].(map[string]any)
	return fmt.Sprint(first["field"])
}
