package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWalkthrough is the README's flow: register a customer, define a plan, provision and
// activate a service, run billing for the month, and pay the invoice it issued.
func TestWalkthrough(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("demo")

	customer := e.must(http.StatusCreated, tok, "/v1/customers", map[string]any{"name": "Ada Lovelace", "email": "ada@example.com",
		"billing_address": "1 Fiber Way, Nairobi", "currency": "USD"})
	customerID := customer.str(t, "id")
	assert.Equal(t, "/v1/customers/"+customerID, customer.Header.Get("Location"))
	assert.Equal(t, `"1"`, customer.Header.Get("ETag"))
	assert.NotEmpty(t, customer.Header.Get("X-Ledger-Position"))

	plan := e.must(http.StatusCreated, tok, "/v1/plans", map[string]any{"code": "fiber_100", "name": "Fiber 100",
		"monthly_price": money("79.99", "USD"), "tax_class": "standard", "tax_rate": "0"})
	assert.Equal(t, "fiber_100", plan.str(t, "id"))

	service := e.must(http.StatusCreated, tok, "/v1/services", map[string]any{"customer_id": customerID, "plan_code": "fiber_100",
		"start_date": "2026-01-10", "install_address": "1 Fiber Way, Nairobi", "ont_serial": "ZTEG-12345678"})
	serviceID := service.str(t, "id")
	e.must(http.StatusOK, tok, "/v1/services/"+serviceID+"/activate", nil)

	run := e.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"}).JSON(t)
	assert.Equal(t, "completed", run["status"])
	assert.InDelta(t, 1, run["customers_invoiced"], 0)
	invoices, ok := run["invoices"].([]any)
	require.True(t, ok)
	require.Len(t, invoices, 1)
	invoice, ok := invoices[0].(map[string]any)
	require.True(t, ok)
	assert.Equal(t, "INV-2026-000001", invoice["number"])
	assert.Equal(t, money("56.77", "USD"), invoice["total"], "22 of January's 31 days of 79.99")

	paid := e.must(http.StatusCreated, tok, "/v1/customers/"+customerID+"/payments", map[string]any{
		"amount": money("56.77", "USD"), "method": "mobile_money", "external_reference": "MPESA-QJK12345"}).JSON(t)
	assert.Equal(t, []any{map[string]any{"invoice_id": invoice["invoice_id"], "amount": money("56.77", "USD")}}, paid["allocations"])
	assert.Equal(t, money("0.00", "USD"), paid["unapplied"])

	again := e.must(http.StatusOK, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"}).JSON(t)
	assert.Equal(t, "completed", again["status"])
	assert.Equal(t, run["invoices"], again["invoices"], "a completed run appends nothing and answers with its invoices")
}
