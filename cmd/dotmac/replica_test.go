package main

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// readOnlyURL is u whose sessions refuse every write, as a hot standby's do.
func readOnlyURL(t *testing.T, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	require.NoError(t, err)
	q := p.Query()
	q.Set("default_transaction_read_only", "on")
	p.RawQuery = q.Encode()
	return p.String()
}

// TestQueryRoleOnAReplica: a query process given --read-database-url starts on a database
// that refuses writes (it migrates and creates nothing there), answers min_position reads
// of writes sent to another process from it, is ready, and exports the replica's lag.
// The topology test (make test-scale) runs it against a real streaming standby.
func TestQueryRoleOnAReplica(t *testing.T) {
	t.Parallel()
	u := pgtest.SchemaURL(t)
	writer := startServerOn(t, u, "--process-managers=false")
	reader := startServerOn(t, u, "--role=query", "--read-database-url", readOnlyURL(t, u), "--read-poll-interval", "20ms")

	tok, err := writer.key.Mint(auth.Principal{Subject: "t", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	for i := range 5 {
		created := writer.do(t, http.MethodPost, writer.command+"/v1/customers", tok, fmt.Sprintf("k-%d", i),
			map[string]any{"name": fmt.Sprintf("Ada %d", i), "email": "ada@example.com", "billing_address": "1 Fiber Way", "currency": "USD"})
		require.Equal(t, http.StatusCreated, created.status, "%s", created.body)
		m := created.json(t)
		got := reader.do(t, http.MethodGet, fmt.Sprintf("%s/v1/customers/%s?min_position=%d", reader.query, m["id"], position(t, m)), tok, "", nil)
		require.Equal(t, http.StatusOK, got.status, "read-your-writes from the replica: %s", got.body)
		assert.Contains(t, string(got.body), fmt.Sprintf("Ada %d", i))
	}
	r := ready(t, reader.admin)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	checks, _ := r.json(t)["checks"].(map[string]any)
	assert.Contains(t, checks, "replica_lag")
	assert.Contains(t, checks, "read_database")
	metrics := reader.do(t, http.MethodGet, reader.admin+"/metrics", "", "", nil)
	assert.Contains(t, string(metrics.body), "\ndotmac_replica_lag_events 0\n")
	assert.True(t, strings.Contains(string(metrics.body), "\ndotmac_replica_lag_measure_failed 0\n"), "the lag is measured")
}
