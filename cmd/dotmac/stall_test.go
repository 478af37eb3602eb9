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
	"github.com/dotmac/ledger/projections"
)

// TestTenantStallTellsOthersNothing: an event of tenant acme that no read model can decode (a
// 19-digit total, as the domain once let through) stops the read models for acme only. Tenant
// globex goes on: its writes show up in its reads (read-your-writes), and neither its answers
// nor the unauthenticated /readyz (200) carry anything of the event. acme's reads answer 503
// with an error id and nothing of the event, as does a command on the stream holding it (never
// a 500); the operators' list names the stall under the same id. A retry before the fix fails
// again under a new id; after the row is repaired, `dotmac projections retry` replays acme, whose
// reads then equal a rebuild's, and a second retry does nothing.
func TestTenantStallTellsOthersNothing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	acme, globex := s.mint(t, "acme"), s.mint(t, "globex")
	post := func(tok, key, path string, body any) map[string]any {
		t.Helper()
		r := s.do(t, http.MethodPost, s.command+path, tok, key, body)
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "POST %s: %s", path, r.body)
		return r.json(t)
	}
	customer := idOf(t, post(acme, "acme-1", "/v1/customers",
		map[string]any{"name": "Acme", "email": "a@example.com", "billing_address": "1 Main St", "currency": "USD"}))
	c := "/v1/customers/" + customer
	invoice := idOf(t, post(acme, "acme-2", c+"/invoices", map[string]any{"lines": []any{map[string]any{"description": "Router", "unit_price": usd("50.00")}}}))
	amount := "1999999999997980000.00"
	stream, eventID := plantUnreadableEvent(t, s.dbURL, customer, invoice, amount)

	after := strconv.FormatUint(position(t, post(globex, "globex-1", "/v1/customers",
		map[string]any{"name": "Globex", "email": "g@example.com", "billing_address": "2 Elm St", "currency": "USD"})), 10)
	secrets := []string{stream, customer, invoice, amount, "InvoiceIssued", "acme"}
	var stalled reply
	require.Eventually(t, func() bool {
		stalled = s.do(t, http.MethodGet, s.query+"/v1/invoices?wait=1s", acme, "", nil)
		return stalled.status == http.StatusServiceUnavailable
	}, time.Minute, 100*time.Millisecond, "the invoices read model stops for acme")
	body := stalled.json(t)
	errorID, _ := body["error_id"].(string)
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, errorID, "%s", stalled.body)
	assert.Contains(t, body["detail"], errorID)
	assert.Equal(t, "application/problem+json", stalled.header.Get("Content-Type"))
	for _, secret := range secrets {
		assert.NotContains(t, string(stalled.body), secret, "acme's 503 tells of the event")
	}

	for _, path := range []string{"/v1/invoices", "/v1/customers", "/v1/journal"} {
		r := s.do(t, http.MethodGet, s.query+path+"?wait=5s&min_position="+after, globex, "", nil)
		assert.Equal(t, http.StatusOK, r.status, "globex's %s: %s", path, r.body)
		for _, secret := range secrets {
			assert.NotContains(t, string(r.body), secret, "globex's %s tells of acme's event", path)
		}
	}
	for _, base := range []string{s.command, s.query} {
		ready := s.do(t, http.MethodGet, base+"/readyz", "", "", nil)
		assert.Equal(t, http.StatusOK, ready.status, "%s", ready.body)
		for _, secret := range append(secrets, errorID) {
			assert.NotContains(t, string(ready.body), secret, "%s/readyz tells of acme's stall", base)
		}
	}

	cmd := s.do(t, http.MethodPost, s.command+c+"/invoices", acme, "acme-3", map[string]any{"lines": []any{
		map[string]any{"description": "Cable", "unit_price": usd("5.00")}}})
	require.Equal(t, http.StatusServiceUnavailable, cmd.status, "a command on the undecodable stream: %s", cmd.body)
	assert.Regexp(t, `^err-[0-9a-f]{16}$`, cmd.json(t)["error_id"], "%s", cmd.body)
	for _, secret := range []string{stream, invoice, amount, "InvoiceIssued", "decode", "invariant", "version"} { // its path names the customer
		assert.NotContains(t, string(cmd.body), secret, "the command's 503 tells of the event")
	}

	db := []string{"--database-url", s.dbURL, "--log-level", "error"}
	invoicesStall := func() (projections.Status, *projections.TenantStall) {
		t.Helper()
		out, code := runCLI(t, append([]string{"projections", "list", "--json"}, db...)...)
		require.Zero(t, code, out)
		var sts []projections.Status
		require.NoError(t, json.Unmarshal([]byte(out), &sts), out)
		for _, st := range sts {
			if st.Name == "invoices" {
				for i := range st.StalledTenants {
					if st.StalledTenants[i].Tenant == "acme" {
						return st, &st.StalledTenants[i]
					}
				}
				return st, nil
			}
		}
		t.Fatalf("no invoices in %s", out)
		return projections.Status{}, nil
	}
	st, stall := invoicesStall()
	require.NotNil(t, stall, "the operators' list names acme's stall")
	assert.Equal(t, errorID, stall.ErrorID)
	assert.Contains(t, stall.Error, "decode")
	assert.Equal(t, projections.StateRunning, st.State)

	out, code := runCLI(t, append([]string{"projections", "retry", "--projection", "invoices", "--tenant", "acme"}, db...)...)
	assert.Equal(t, 1, code, "a retry that fails again exits 1: %s", out)
	_, again := invoicesStall()
	require.NotNil(t, again)
	assert.NotEqual(t, errorID, again.ErrorID, "a retry that fails again records a new error id")

	repairEvent(t, s.dbURL, eventID, customer, invoice)
	out, code = runCLI(t, append([]string{"projections", "retry"}, db...)...)
	require.Zero(t, code, out)
	assert.Contains(t, out, "cleared")
	_, stall = invoicesStall()
	assert.Nil(t, stall)
	retried := s.do(t, http.MethodGet, s.query+"/v1/invoices", acme, "", nil)
	require.Equal(t, http.StatusOK, retried.status, "%s", retried.body)
	assert.Contains(t, string(retried.body), `"50.00"`)
	out, code = runCLI(t, append([]string{"projections", "retry"}, db...)...)
	require.Zero(t, code, out)
	assert.Contains(t, out, "nothing to retry")

	out, code = runCLI(t, append([]string{"projections", "rebuild", "invoices"}, db...)...)
	require.Zero(t, code, out)
	rebuilt := s.do(t, http.MethodGet, s.query+"/v1/invoices", acme, "", nil)
	require.Equal(t, http.StatusOK, rebuilt.status, "%s", rebuilt.body)
	assert.JSONEq(t, string(retried.body), string(rebuilt.body), "the retried rows are a rebuild's")
}

// repairEvent rewrites the planted event's amounts as a superuser would (past the append-only
// trigger) to what its draft holds: 50.00.
func repairEvent(t *testing.T, dbURL, eventID, customer, invoice string) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	defer pool.Close()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
	require.NoError(t, err)
	tag, err := tx.Exec(ctx, `UPDATE es_events SET data = $2 WHERE event_id = $1`, eventID, issuedData(t, customer, invoice, "50.00", "0.00"))
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	require.NoError(t, tx.Commit(ctx))
}

func issuedData(t *testing.T, customer, invoice, total, tax string) string {
	t.Helper()
	money := func(a string) string {
		m, err := json.Marshal(map[string]string{"amount": a, "currency": "USD"})
		require.NoError(t, err)
		return string(m)
	}
	return `{"customer_id":"` + customer + `","invoice_id":"` + invoice + `","number":"INV-1",` +
		`"issue_date":"2026-01-10","due_date":"2026-01-24","currency":"USD","net_total":` + money(total) +
		`,"tax_total":` + money(tax) + `,"total":` + money(total) + `,"credit_applied":{"amount":"0.00","currency":"USD"},` +
		`"issued_at":"2026-01-10T09:00:00Z","lines":[]}`
}

// plantUnreadableEvent appends to acme's customer stream an InvoiceIssued of the draft invoice
// whose total no reader accepts, and returns the stream id and the event id.
func plantUnreadableEvent(t *testing.T, dbURL, customer, invoice, amount string) (string, string) {
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
	eventID := uuid.Must(uuid.NewV7())
	_, err = store.Append(ctx, stream, eventstore.Any(), eventstore.EventData{ID: eventID, Type: "InvoiceIssued",
		SchemaVersion: 1, Data: json.RawMessage(issuedData(t, customer, invoice, amount, amount)), Metadata: eventstore.Metadata{TenantID: "acme"}})
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(stream, "t-acme/"), stream)
	return stream, eventID.String()
}
