package main

import (
	"encoding/json"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// operatorToken mints an operator token with perms.
func (s *server) operatorToken(t *testing.T, perms ...string) string {
	t.Helper()
	tok, err := s.key.Mint(auth.Principal{Subject: "ops", Operator: true, Permissions: perms}, time.Now(), time.Hour)
	require.NoError(t, err)
	return tok
}

// TestAdminListenerOnEveryRole: each role alone, the projector-only process included, answers
// on its admin address: /healthz, /metrics with dotmac_build_info, /readyz (terse without a
// token, each check and every projection's status with an operator token), projection admin
// for an operator token only; pprof only where --pprof is given. The public listeners serve no
// /metrics and no projection admin route, to anyone.
func TestAdminListenerOnEveryRole(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	projector := startServerOn(t, url, "--role=projector", "--pprof")
	command := startServerOn(t, url, "--role=command", "--process-managers=false")
	query := startServerOn(t, url, "--role=query")
	op := projector.operatorToken(t, auth.ProjectionsRead)
	tenant := projector.mint(t, "acme")
	for _, c := range []struct {
		role   string
		s      *server
		checks []string
		pprof  bool
	}{
		{roleProjector, projector, []string{"database", "database_writable", "eventstore", "projections"}, true},
		{roleCommand, command, []string{"database", "database_writable", "eventstore"}, false},
		{roleQuery, query, []string{"database", "eventstore"}, false},
	} {
		s := c.s
		assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.admin+"/healthz", "", "", nil).status, c.role)

		m := s.do(t, http.MethodGet, s.admin+"/metrics", "", "", nil)
		require.Equal(t, http.StatusOK, m.status, c.role)
		assert.Regexp(t, `(?m)^dotmac_build_info\{go_version="`+strings.ReplaceAll(runtime.Version(), ".", `\.`)+`",revision="[^"]+",version="[^"]+"\} 1$`,
			string(m.body), c.role)
		if c.role == roleProjector {
			assert.Contains(t, string(m.body), "dotmac_projection_head", "the projector's own metrics")
		}
		assert.Contains(t, string(m.body), "dotmac_eventstore_batch_appends_count", "%s: the event store writer's metrics", c.role)

		// Terse without a token: check names and "ok", nothing else.
		var terse reply
		require.Eventually(t, func() bool {
			terse = s.do(t, http.MethodGet, s.admin+"/readyz", "", "", nil)
			return terse.status == http.StatusOK
		}, time.Minute, 50*time.Millisecond, "%s: admin /readyz: %s", c.role, terse.body)
		checks, ok := terse.json(t)["checks"].(map[string]any)
		require.True(t, ok, "%s", terse.body)
		for _, name := range c.checks {
			assert.Equal(t, "ok", checks[name], "%s: check %s", c.role, name)
		}
		assert.Len(t, checks, len(c.checks), "%s: %v", c.role, checks)
		assert.NotContains(t, terse.json(t), "projections")
		// A tenant token is no operator's: terse too.
		assert.NotContains(t, s.do(t, http.MethodGet, s.admin+"/readyz", tenant, "", nil).json(t), "projections", c.role)

		// Detailed for an operator.
		detail := s.do(t, http.MethodGet, s.admin+"/readyz", op, "", nil)
		require.Equal(t, http.StatusOK, detail.status, "%s: %s", c.role, detail.body)
		var d struct {
			Status      string                       `json:"status"`
			Checks      map[string]map[string]string `json:"checks"`
			Projections []map[string]any             `json:"projections"`
		}
		require.NoError(t, json.Unmarshal(detail.body, &d), "%s", detail.body)
		assert.Equal(t, "ready", d.Status)
		for _, name := range c.checks {
			assert.Equal(t, "ok", d.Checks[name]["status"], "%s: check %s", c.role, name)
		}
		require.Len(t, d.Projections, len(registeredProjections()), "%s: every projection's status: %s", c.role, detail.body)
		assert.Equal(t, registeredProjections()[0].Name(), d.Projections[0]["name"])
		assert.Contains(t, d.Projections[0], "position")

		// Projection admin: operators only.
		assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.admin+"/v1/projections", op, "", nil).status, c.role)
		assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.admin+"/v1/projection-copies", op, "", nil).status, c.role)
		assert.Equal(t, http.StatusUnauthorized, s.do(t, http.MethodGet, s.admin+"/v1/projections", "", "", nil).status, c.role)
		refused := s.do(t, http.MethodGet, s.admin+"/v1/projections", tenant, "", nil)
		assert.Equal(t, http.StatusForbidden, refused.status, c.role)
		assert.Equal(t, "/problems/operators-only", refused.json(t)["type"])
		assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.admin+"/openapi.json", "", "", nil).status, c.role)

		pprof := s.do(t, http.MethodGet, s.admin+"/debug/pprof/cmdline", "", "", nil)
		if c.pprof {
			assert.Equal(t, http.StatusOK, pprof.status, "%s: --pprof", c.role)
			assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.admin+"/debug/pprof/goroutine?debug=1", "", "", nil).status, c.role)
		} else {
			assert.Equal(t, http.StatusNotFound, pprof.status, "%s: no --pprof, no profiles", c.role)
		}
	}

	// The public listeners: terse probes, no metrics, no admin, for no token.
	for _, base := range []string{command.command, query.query} {
		assert.Equal(t, http.StatusOK, command.do(t, http.MethodGet, base+"/healthz", "", "", nil).status, base)
		assert.Equal(t, http.StatusNotFound, command.do(t, http.MethodGet, base+"/metrics", "", "", nil).status, base)
		assert.Equal(t, http.StatusNotFound, command.do(t, http.MethodGet, base+"/debug/pprof/cmdline", "", "", nil).status, base)
		for _, tok := range []string{op, projector.operatorToken(t, auth.All), tenant} {
			for _, path := range []string{"/v1/projections", "/v1/projections/customers", "/v1/projection-copies"} {
				assert.Equal(t, http.StatusNotFound, command.do(t, http.MethodGet, base+path, tok, "", nil).status, base+path)
			}
		}
		ready := command.do(t, http.MethodGet, base+"/readyz", op, "", nil)
		assert.NotContains(t, ready.json(t), "projections", "%s/readyz gives no detail, even to an operator", base)
	}
}

// TestAdminAddrEmptyDisablesIt: --admin-addr "" serves no admin listener; the public APIs
// still answer.
func TestAdminAddrEmptyDisablesIt(t *testing.T) {
	t.Parallel()
	s := startServerOn(t, pgtest.SchemaURL(t), "--role=query", "--admin-addr=")
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.query+"/healthz", "", "", nil).status)
	_, err := http.Get(s.admin + "/healthz") // #nosec G107 -- loopback test address
	require.Error(t, err, "nothing listens on the admin address")
}

// TestAdminReadyzDetailForOperators: with projections stalled for tenant acme on its unreadable
// event, the admin /readyz tells nothing of it without a token, and an operator the stalled
// tenants with their positions and error text.
func TestAdminReadyzDetailForOperators(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	amount := "1999999999997980000.00"
	stream, _ := plantUnreadableEvent(t, s.dbURL, uuid.Must(uuid.NewV7()).String(), uuid.Must(uuid.NewV7()).String(), amount)
	op := s.operatorToken(t, auth.ProjectionsRead)

	var stalled []map[string]any
	var detail reply
	require.Eventually(t, func() bool {
		detail = s.do(t, http.MethodGet, s.admin+"/readyz", op, "", nil)
		var d struct {
			Projections []map[string]any `json:"projections"`
		}
		require.NoError(t, json.Unmarshal(detail.body, &d), "%s", detail.body)
		stalled = stalled[:0]
		for _, p := range d.Projections {
			if n, ok := p["stalled_tenant_count"].(float64); ok && n > 0 {
				stalled = append(stalled, p)
			}
		}
		return len(stalled) > 0
	}, time.Minute, 100*time.Millisecond, "the operator's /readyz shows no stalled projection: %s", detail.body)
	for _, p := range stalled {
		tenants, ok := p["stalled_tenants"].([]any)
		require.True(t, ok, "%v", p)
		require.NotEmpty(t, tenants, "%v", p)
		first, ok := tenants[0].(map[string]any)
		require.True(t, ok, "%v", p)
		assert.Equal(t, "acme", first["tenant"], "%v", p)
		assert.NotEmpty(t, first["error"], "%v", p)
		assert.Positive(t, first["position"], "%v", p)
	}

	for _, tok := range []string{"", s.mint(t, "globex")} {
		terse := s.do(t, http.MethodGet, s.admin+"/readyz", tok, "", nil)
		for _, secret := range []string{stream, amount, "acme", "stalled_tenants"} {
			assert.NotContains(t, string(terse.body), secret, "the admin /readyz without an operator token tells of acme's event")
		}
	}
}
