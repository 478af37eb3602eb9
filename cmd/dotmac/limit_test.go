package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestServeShedsBeyondItsInFlightLimit: with --http-max-in-flight 1, a request the command API
// is serving (one whose body has not come yet) takes its only slot; the next is answered 503
// busy at once (--http-queue-wait 0), the probes still answer, and the query API has slots of
// its own. Once the slow request goes, the command API serves again.
func TestServeShedsBeyondItsInFlightLimit(t *testing.T) {
	s := startServerOn(t, pgtest.SchemaURL(t), "--process-managers=false", "--http-max-in-flight=1", "--http-queue-wait=0s")
	tok, err := s.key.Mint(auth.Principal{Subject: "test", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	ops, err := s.key.Mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	inFlight := func() bool {
		m := s.do(t, http.MethodGet, s.admin+"/metrics", ops, "", nil)
		return strings.Contains(string(m.body), `dotmac_http_in_flight_requests{api="command"} 1`)
	}

	// A registration whose body never comes: the handler waits for it, holding the slot.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.command, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /v1/customers HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer %s\r\n"+
		"Idempotency-Key: slow-1\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{", tok)
	require.NoError(t, err)
	require.Eventually(t, inFlight, time.Minute, 20*time.Millisecond, "the slow request is being served")

	busy := s.do(t, http.MethodPost, s.command+"/v1/customers", tok, "busy-1", map[string]any{"name": "Ada"})
	require.Equal(t, http.StatusServiceUnavailable, busy.status, string(busy.body))
	assert.Equal(t, "/problems/busy", busy.json(t)["type"])
	assert.Equal(t, "1", busy.header.Get("Retry-After"))
	m := s.do(t, http.MethodGet, s.admin+"/metrics", ops, "", nil)
	assert.Contains(t, string(m.body), `dotmac_http_requests_total{api="command",method="POST",route="shed",status="503"} 1`)
	assert.Contains(t, string(m.body), `dotmac_http_shed_total{api="command"} 1`)

	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.command+"/healthz", "", "", nil).status, "the probes are never held")
	assert.Equal(t, http.StatusOK, s.do(t, http.MethodGet, s.query+"/v1/invoices", tok, "", nil).status, "the query API has its own slots")

	require.NoError(t, conn.Close())
	require.Eventually(t, func() bool {
		return s.do(t, http.MethodPost, s.command+"/v1/customers", tok, "after-1", map[string]any{"name": "Ada"}).status != http.StatusServiceUnavailable
	}, time.Minute, 20*time.Millisecond, "the slot is free again once the slow request went")
}
