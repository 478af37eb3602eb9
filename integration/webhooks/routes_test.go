package webhooks_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/auth"
)

// Every webhook route checks its request before anything else: no token is 401, a token
// without the route's permission 403; every POST also needs an Idempotency-Key (400), a JSON
// body (415), well-formed (400) and within the limit (413).
func TestEveryRouteChecksTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	h := e.client(t, "acme").h
	path := func(p string) string {
		return strings.NewReplacer("{endpoint_id}", uuid.NewString(), "{delivery_id}", uuid.NewString()).Replace(p)
	}
	send := func(method, p, perm, key, ctype string, body []byte) int {
		req := httptest.NewRequest(method, p, bytes.NewReader(body))
		if perm != "" {
			tok, err := testKey.Mint(auth.Principal{Subject: "t", Tenant: "acme", Permissions: []string{perm}}, time.Now(), time.Hour)
			require.NoError(t, err)
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	routes := append(webhooks.CommandRoutes(), webhooks.QueryRoutes()...)
	for _, rt := range routes {
		p := path(rt.Path)
		other := auth.WebhooksRead
		if rt.Permission == auth.WebhooksRead {
			other = auth.WebhooksWrite
		}
		assert.Equal(t, http.StatusUnauthorized, send(rt.Method, p, "", "k", "", nil), rt.Operation)
		assert.Equal(t, http.StatusForbidden, send(rt.Method, p, other, "k", "", nil), rt.Operation)
		if rt.Method != http.MethodPost {
			continue
		}
		perm := rt.Permission
		assert.Equal(t, http.StatusBadRequest, send(rt.Method, p, perm, "", "application/json", []byte(`{}`)), rt.Operation)
		assert.Equal(t, http.StatusUnsupportedMediaType, send(rt.Method, p, perm, "k", "text/plain", []byte(`{}`)), rt.Operation)
		assert.Equal(t, http.StatusBadRequest, send(rt.Method, p, perm, "k", "application/json", []byte(`{"url":`)), rt.Operation)
		assert.Equal(t, http.StatusRequestEntityTooLarge,
			send(rt.Method, p, perm, "k", "application/json", []byte(`{"description":"`+strings.Repeat("x", 1<<20)+`"}`)), rt.Operation)
	}
}
