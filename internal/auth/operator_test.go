package auth_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// TestOperatorToken: an operator token round-trips with no tenant; a principal naming both a
// tenant and the operator claim cannot be minted, and such a token is refused.
func TestOperatorToken(t *testing.T) {
	t.Parallel()
	k, err := auth.HS256(secret)
	require.NoError(t, err)
	op := auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.ProjectionsRead}}
	tok, err := k.Mint(op, time.Now(), time.Hour)
	require.NoError(t, err)
	got, err := k.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, op, got)

	_, err = k.Mint(auth.Principal{Subject: "ops", Tenant: "acme", Operator: true}, time.Now(), time.Hour)
	assert.Error(t, err, "an operator of a tenant")
	now := time.Now()
	both := signed(t, jwt.MapClaims{"sub": "ops", "tenant": "acme", "operator": true, "iss": auth.DefaultIssuer,
		"aud": auth.DefaultAudience, "iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	_, err = k.Verify(both)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "a token claiming a tenant and the operator")
	neither := signed(t, jwt.MapClaims{"sub": "ops", "iss": auth.DefaultIssuer, "aud": auth.DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix()})
	_, err = k.Verify(neither)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "no tenant and no operator claim")
}

// TestOperatorLifetime: operator tokens live at most OperatorMaxLifetime (1 h by default, and
// never longer than MaxLifetime), minted or verified; tenant tokens keep MaxLifetime.
func TestOperatorLifetime(t *testing.T) {
	t.Parallel()
	k, err := auth.HS256(secret)
	require.NoError(t, err)
	assert.Equal(t, time.Hour, k.Policy().OperatorMaxLifetime)
	op := auth.Principal{Subject: "ops", Operator: true}
	_, err = k.Mint(op, time.Now(), auth.DefaultOperatorMaxLifetime)
	require.NoError(t, err)
	_, err = k.Mint(op, time.Now(), auth.DefaultOperatorMaxLifetime+time.Second)
	assert.Error(t, err, "an operator token over its maximum")
	_, err = k.Mint(auth.Principal{Subject: "u", Tenant: "acme"}, time.Now(), auth.DefaultMaxLifetime)
	assert.NoError(t, err, "a tenant token keeps its own maximum")

	now := time.Now()
	long := signed(t, jwt.MapClaims{"sub": "ops", "operator": true, "iss": auth.DefaultIssuer, "aud": auth.DefaultAudience,
		"iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix()})
	_, err = k.Verify(long)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "a 2 h operator token")

	short, err := k.WithPolicy(auth.Policy{MaxLifetime: 10 * time.Minute})
	require.NoError(t, err)
	assert.Equal(t, 10*time.Minute, short.Policy().OperatorMaxLifetime, "never longer than tenant tokens")
	custom, err := k.WithPolicy(auth.Policy{OperatorMaxLifetime: 15 * time.Minute})
	require.NoError(t, err)
	_, err = custom.Mint(op, time.Now(), 20*time.Minute)
	assert.Error(t, err)
	_, err = k.WithPolicy(auth.Policy{MaxLifetime: time.Hour, OperatorMaxLifetime: 2 * time.Hour})
	assert.Error(t, err, "operators outliving tenants")
	_, err = k.WithPolicy(auth.Policy{OperatorMaxLifetime: time.Second})
	assert.Error(t, err, "an operator lifetime within the leeway")
}

// TestOperatorsAndTenantsAreSeparate: an operator route answers 401 without a token and 403
// (operators-only) to a tenant token, even one with "*"; a tenant route answers 403
// (tenants-only) to an operator token, even one with "*".
func TestOperatorsAndTenantsAreSeparate(t *testing.T) {
	t.Parallel()
	k, err := auth.HS256(secret)
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	opRoute := k.Authenticate(auth.RequireOperator(auth.ProjectionsRebuild, ok))
	tenantRoute := k.Authenticate(auth.Require(auth.CustomersRead, ok))
	mint := func(p auth.Principal) string {
		tok, err := k.Mint(p, time.Now(), time.Hour)
		require.NoError(t, err)
		return tok
	}
	tenantAll := mint(auth.Principal{Subject: "u", Tenant: "acme", Permissions: []string{auth.All}})
	tenantRebuild := mint(auth.Principal{Subject: "u", Tenant: "acme", Permissions: []string{auth.ProjectionsRebuild}})
	opAll := mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.All}})
	opRead := mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.ProjectionsRead}})
	opRebuild := mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.ProjectionsRebuild}})
	cases := []struct {
		name    string
		route   http.Handler
		token   string
		status  int
		problem string
	}{
		{"no token on an operator route", opRoute, "", 401, "/problems/unauthorized"},
		{"tenant * on an operator route", opRoute, tenantAll, 403, "/problems/operators-only"},
		{"tenant projections:rebuild on an operator route", opRoute, tenantRebuild, 403, "/problems/operators-only"},
		{"operator without the permission", opRoute, opRead, 403, "/problems/forbidden"},
		{"operator with it", opRoute, opRebuild, 204, ""},
		{"operator *", opRoute, opAll, 204, ""},
		{"operator * on a tenant route", tenantRoute, opAll, 403, "/problems/tenants-only"},
		{"tenant * on a tenant route", tenantRoute, tenantAll, 204, ""},
	}
	for _, tc := range cases {
		r := httptest.NewRequest(http.MethodPost, "/x", nil)
		if tc.token != "" {
			r.Header.Set("Authorization", "Bearer "+tc.token)
		}
		w := httptest.NewRecorder()
		tc.route.ServeHTTP(w, r)
		assert.Equal(t, tc.status, w.Code, tc.name)
		if tc.problem == "" {
			continue
		}
		assert.Equal(t, httpx.ProblemContentType, w.Header().Get("Content-Type"), tc.name)
		var p struct{ Type, Detail string }
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), tc.name)
		assert.Equal(t, tc.problem, p.Type, tc.name)
		if tc.problem == "/problems/operators-only" {
			assert.Contains(t, p.Detail, "dotmac token --operator", tc.name)
		}
	}
}
