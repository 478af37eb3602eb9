package main

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestReadyzFailsOnAReadOnlyDatabase: once the database refuses writes, /readyz of a process
// that writes (command, projector) answers 503 naming database_writable, and a command answers
// 503 with Retry-After; a query-only process stays ready.
func TestReadyzFailsOnAReadOnlyDatabase(t *testing.T) {
	t.Parallel()
	url := pgtest.DatabaseURL(t)
	writer := startServerOn(t, url, "--process-managers=false")
	reader := startServerOn(t, url, "--role=query", "--process-managers=false")
	require.Equal(t, http.StatusOK, ready(t, writer.command).status)

	pgtest.SetReadOnly(t, url, true)
	// The sessions the server held were ended: wait until it has reconnected and asked again.
	var r reply
	writable := func() string {
		r = ready(t, writer.command)
		checks, _ := r.json(t)["checks"].(map[string]any)
		s, _ := checks["database_writable"].(string)
		return s
	}
	// The unauthenticated answer gives an error id, never the error (it is logged under it).
	require.Eventually(t, func() bool { return strings.HasPrefix(writable(), "failed, error id ") },
		time.Minute, 50*time.Millisecond, "/readyz does not see the read-only database")
	assert.Equal(t, http.StatusServiceUnavailable, r.status)
	assert.Contains(t, r.json(t)["detail"], "database_writable")
	require.Eventually(t, func() bool { return ready(t, reader.query).status == http.StatusOK },
		time.Minute, 50*time.Millisecond, "a query-only process writes nothing: it stays ready")

	tok, err := writer.key.Mint(auth.Principal{Subject: "t", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	cmd := writer.do(t, http.MethodPost, writer.command+"/v1/customers", tok, "k-1",
		map[string]any{"name": "Ada", "email": "ada@example.com", "billing_address": "1 Fiber Way", "currency": "USD"})
	require.Equal(t, http.StatusServiceUnavailable, cmd.status, "%s", cmd.body)
	retry, err := strconv.Atoi(cmd.header.Get("Retry-After"))
	require.NoError(t, err)
	assert.Positive(t, retry)
}

func ready(t *testing.T, base string) reply {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/readyz", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out reply
	out.status, out.header = resp.StatusCode, resp.Header
	out.body, err = io.ReadAll(resp.Body)
	require.NoError(t, err)
	return out
}
