package api_test

import (
	"context"
	"net/http"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/domain"
)

// runInvoices returns the invoices of a billing run answer by customer id.
func runInvoices(t *testing.T, r resp) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	list, ok := r.JSON(t)["invoices"].([]any)
	require.True(t, ok, string(r.Body))
	for _, item := range list {
		inv, ok := item.(map[string]any)
		require.True(t, ok)
		out[inv["customer_id"].(string)] = inv //nolint:errcheck // the schema says it is a string
	}
	return out
}

// TestBillingRunBillsEachCustomerOnce: the run invoices every customer with billable days,
// skips the others without spending invoice numbers, and creates nothing when run again.
func TestBillingRunBillsEachCustomerOnce(t *testing.T) {
	t.Parallel()
	modes(t, func(t *testing.T, newEnv func(testing.TB) *env) {
		e := newEnv(t)
		tok := e.token("acme")
		e.definePlan(tok, "fiber_100", "79.99")
		e.definePlan(tok, "fiber_500", "119.99")
		first, second := e.registerCustomer(tok), e.registerCustomer(tok)
		e.activeService(tok, first, "fiber_100")
		e.activeService(tok, second, "fiber_100")
		e.activeService(tok, second, "fiber_500")
		e.registerCustomer(tok) // no service: not billed
		idle := e.registerCustomer(tok)
		e.must(http.StatusCreated, tok, "/v1/services", map[string]any{"customer_id": idle, "plan_code": "fiber_100",
			"start_date": "2026-01-10", "install_address": "x"}) // never activated: nothing billable
		gone := e.registerCustomer(tok)
		e.activeService(tok, gone, "fiber_100")
		e.must(http.StatusOK, tok, "/v1/customers/"+gone+"/deactivate", nil)

		key := uuid.NewString()
		r := e.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01", "due_days": 10}, api.HeaderIdempotencyKey, key)
		body := r.JSON(t)
		assert.Equal(t, "completed", body["status"])
		assert.Equal(t, "2026-01", body["id"])
		invoices := runInvoices(t, r)
		require.Len(t, invoices, 2)
		assert.Equal(t, money("56.77", "USD"), invoices[first]["total"])
		assert.Equal(t, money("141.92", "USD"), invoices[second]["total"], "56.77 + 85.15: 22 of 31 days of each plan")
		numbers := []any{invoices[first]["number"], invoices[second]["number"]}
		assert.ElementsMatch(t, []any{"INV-2026-000001", "INV-2026-000002"}, numbers, "skipped customers spend no number")
		skipped, ok := body["skipped"].([]any)
		require.True(t, ok)
		assert.Len(t, skipped, 2)

		retry := e.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01", "due_days": 10},
			api.HeaderIdempotencyKey, key)
		assert.JSONEq(t, string(r.Body), string(retry.Body), "a retry answers as the first did, skipped customers and reasons included")

		again := e.must(http.StatusOK, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
		assert.Equal(t, invoices, runInvoices(t, again), "a repeated run answers with the original invoices")
		assert.InDelta(t, 2, again.JSON(t)["customers_invoiced"], 0)

		account, _ := foldAccount(t, e, first)
		require.Len(t, account.Invoices, 1)
		for _, inv := range account.Invoices {
			assert.Equal(t, "2026-01-20", inv.DueDate.String())
		}
		manual := e.issuedInvoice(tok, first, "5.00")
		account, _ = foldAccount(t, e, first)
		assert.Equal(t, "INV-2026-000003", account.Invoices[mustInvoiceID(t, manual)].Number)
	})
}

// TestBillingRunContinuesAfterACrash: a run that invoiced a customer but stopped before it
// recorded it continues on the next invocation, recording the invoice that exists instead of
// creating another.
func TestBillingRunContinuesAfterACrash(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	e.definePlan(tok, "fiber_100", "79.99")
	done, pending := e.registerCustomer(tok), e.registerCustomer(tok)
	e.activeService(tok, done, "fiber_100")
	e.activeService(tok, pending, "fiber_100")

	// The crashed run: started, invoiced one customer, never recorded it.
	ctx := context.Background()
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	period, err := domain.ParsePeriod("2026-01")
	require.NoError(t, err)
	m := commands.Meta{Tenant: tenant, Actor: "crashed-run"}
	_, err = e.handlers.StartBillingRun(ctx, m, period)
	require.NoError(t, err)
	run, _, err := e.handlers.BillingRun(ctx, tenant, period)
	require.NoError(t, err)
	customers, err := e.handlers.BillableCustomers(ctx, tenant, period)
	require.NoError(t, err)
	i := slices.IndexFunc(customers, func(c commands.BillableCustomer) bool { return c.CustomerID.String() == done })
	require.GreaterOrEqual(t, i, 0)
	billed, err := e.handlers.BillCustomer(ctx, m, run, customers[i], commands.DefaultDueDays)
	require.NoError(t, err)
	require.Equal(t, "INV-2026-000001", billed.Number)

	r := e.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	invoices := runInvoices(t, r)
	require.Len(t, invoices, 2)
	assert.Equal(t, billed.InvoiceID.String(), invoices[done]["invoice_id"], "the existing invoice is recorded")
	assert.NotContains(t, invoices[done], "number")
	assert.Equal(t, "INV-2026-000002", invoices[pending]["number"])
	account, _ := foldAccount(t, e, done)
	assert.Len(t, account.Invoices, 1, "no second invoice for the period")
}
