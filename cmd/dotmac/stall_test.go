package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
)

// TestStalledProjectionTellsOthersNothing: an event of tenant acme that no projection can
// read (a 19-digit total, as the domain once let through) stalls the read models. Tenant
// globex's query, waiting for its own later write, answers 503 with an error id and the
// unauthenticated /readyz answers 503 too; neither carries anything of the event: not its
// stream, tenant, customer, type or amount.
func TestStalledProjectionTellsOthersNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	customer := uuid.Must(uuid.NewV7()).String()
	amount := "1999999999997980000.00"
	stream := plantUnreadableEvent(t, s.dbURL, customer, amount)

	globex := s.mint(t, "globex")
	r := s.do(t, http.MethodPost, s.command+"/v1/customers", globex, "stall-1",
		map[string]any{"name": "Globex", "email": "g@example.com", "billing_address": "2 Elm St", "currency": "USD"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	after := strconv.FormatUint(position(t, r.json(t)), 10)

	secrets := []string{stream, customer, amount, "acme", "InvoiceIssued"}
	var answer reply
	require.Eventually(t, func() bool {
		answer = s.do(t, http.MethodGet, s.query+"/v1/invoices?wait=1s&min_position="+after, globex, "", nil)
		return answer.status == http.StatusServiceUnavailable
	}, time.Minute, 100*time.Millisecond, "the invoices read model stalls on acme's event")
	body := answer.json(t)
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, body["error_id"], "%s", answer.body)
	assert.Contains(t, body["detail"], body["error_id"])
	for _, secret := range secrets {
		assert.NotContains(t, string(answer.body), secret, "globex's 503 tells of acme's event")
	}

	for _, base := range []string{s.command, s.query} {
		ready := s.do(t, http.MethodGet, base+"/readyz", "", "", nil)
		assert.Equal(t, http.StatusServiceUnavailable, ready.status, "%s", ready.body)
		assert.Contains(t, string(ready.body), "error id err-")
		for _, secret := range secrets {
			assert.NotContains(t, string(ready.body), secret, "%s/readyz tells of acme's event", base)
		}
	}
}

// plantUnreadableEvent appends to acme's customer stream an InvoiceIssued whose total no
// reader accepts, and returns the stream id.
func plantUnreadableEvent(t *testing.T, dbURL, customer, amount string) string {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	id, err := domain.ParseCustomerID(customer)
	require.NoError(t, err)
	stream := domain.CustomerStream(tenant, id)
	money, err := json.Marshal(map[string]string{"amount": amount, "currency": "USD"})
	require.NoError(t, err)
	data := `{"customer_id":"` + customer + `","invoice_id":"` + uuid.Must(uuid.NewV7()).String() + `","number":"INV-1",` +
		`"issue_date":"2026-01-10","due_date":"2026-01-24","currency":"USD","net_total":` + string(money) +
		`,"tax_total":` + string(money) + `,"total":` + string(money) + `,"credit_applied":{"amount":"0.00","currency":"USD"},` +
		`"issued_at":"2026-01-10T09:00:00Z","lines":[]}`
	_, err = store.Append(ctx, stream, eventstore.Any(), eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "InvoiceIssued",
		SchemaVersion: 1, Data: json.RawMessage(data), Metadata: eventstore.Metadata{TenantID: "acme"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stream, "t-acme/"), stream)
	return stream
}
