package audit_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/internal/auth"
)

func TestHTTP(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 8, 3)
	key, err := auth.HS256([]byte(strings.Repeat("k", 32)))
	require.NoError(t, err)
	r := mux.NewRouter()
	audit.Routes(r, audit.New(store), key)
	srv := httptest.NewServer(r)
	defer srv.Close()
	token := func(tenant string, perms ...string) string {
		tok, err := key.Mint(auth.Principal{Subject: "auditor", Tenant: tenant, Permissions: perms}, time.Now(), time.Hour)
		require.NoError(t, err)
		return tok
	}
	get := func(path, tok string) (*http.Response, []byte) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+path, nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, body
	}
	_, customer := aCustomer(t, store)
	demo := token("demo", auth.AuditRead)
	cases := []struct {
		path, tok string
		status    int
	}{
		{"/v1/audit/customers/" + customer.String() + "/history", demo, 200},
		{"/v1/audit/customers/" + customer.String() + "/history", token("other", auth.AuditRead), 404},
		{"/v1/audit/customers/" + customer.String() + "/history", token("demo", auth.InvoicesRead), 403},
		{"/v1/audit/customers/not-an-id/history", demo, 404},
		{"/v1/audit/customers/" + customer.String() + "/as-of?date=2025-02-28", demo, 200},
		{"/v1/audit/customers/" + customer.String() + "/as-of?date=28/02/2025", demo, 400},
		{"/v1/audit/customers/" + customer.String() + "/as-of?date=2025-02-28&position=3", demo, 400},
		{"/v1/audit/trial-balance?position=100", demo, 200},
		{"/v1/audit/verify", demo, 200},
		{"/v1/audit/verify", token("other", auth.AuditRead), 200},
		{"/v1/audit/export?period=2025-02", demo, 200},
		{"/v1/audit/export?period=feb", demo, 400},
		{"/v1/audit/export?period=1999-01", demo, 404},
		{"/v1/audit/export?period=2025-02", token("nosuch", auth.AuditRead), 404},
	}
	for _, tc := range cases {
		resp, body := get(tc.path, tc.tok)
		assert.Equal(t, tc.status, resp.StatusCode, "%s: %s", tc.path, body)
		if tc.status >= 400 {
			assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"), tc.path)
		}
	}

	_, body := get("/v1/audit/verify", token("other", auth.AuditRead))
	var rep audit.Report
	require.NoError(t, json.Unmarshal(body, &rep))
	assert.Zero(t, rep.Events, "another tenant's verify reads none of demo's events")

	resp, body := get("/v1/audit/export?period=2025-02", demo)
	assert.Equal(t, "application/zip", resp.Header.Get("Content-Type"))
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	require.NoError(t, err)
	names := []string{}
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	assert.Contains(t, names, "manifest.json")
	assert.Contains(t, names, "journal.csv")
}
