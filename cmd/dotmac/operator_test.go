package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// TestOperatorsAndTenantsAreSeparate: on a served system an operator token reaches the
// projection admin routes (on the admin listener) and no tenant route of either API (403
// tenants-only), and a tenant token with "*" no admin route (403 operators-only).
func TestOperatorsAndTenantsAreSeparate(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	op, err := s.key.Mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	tenant := s.mint(t, "acme")
	cases := []struct {
		method, url, token string
		body               any
		status             int
		problem            string
	}{
		{http.MethodGet, s.admin + "/v1/projections", op, nil, http.StatusOK, ""},
		{http.MethodGet, s.admin + "/v1/projections/customers", op, nil, http.StatusOK, ""},
		{http.MethodGet, s.admin + "/v1/projections", tenant, nil, http.StatusForbidden, "/problems/operators-only"},
		{http.MethodGet, s.query + "/v1/customers", op, nil, http.StatusForbidden, "/problems/tenants-only"},
		{http.MethodGet, s.query + "/v1/audit/verify", op, nil, http.StatusForbidden, "/problems/tenants-only"},
		{http.MethodPost, s.command + "/v1/customers", op, map[string]any{"name": "Ops", "email": "ops@example.com",
			"billing_address": "1 Ops St", "currency": "USD"}, http.StatusForbidden, "/problems/tenants-only"},
	}
	for _, c := range cases {
		got := s.do(t, c.method, c.url, c.token, "operator-test", c.body)
		if !assert.Equal(t, c.status, got.status, "%s %s: %s", c.method, c.url, got.body) || c.problem == "" {
			continue
		}
		assert.Equal(t, c.problem, got.json(t)["type"], "%s %s", c.method, c.url)
	}
}
