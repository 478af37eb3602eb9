package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInvalidValuesNameTheirField: each malformed value answers 400 with a problem naming the
// field; amounts are never JSON numbers.
func TestInvalidValuesNameTheirField(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	payments := "/v1/customers/" + customer + "/payments"
	pay := func(amount any) map[string]any { return map[string]any{"amount": amount, "method": "card"} }
	cases := []struct {
		name, path string
		body       any
		field      string
		reason     string
	}{
		{"amount as a JSON number", payments, `{"amount": {"amount": 79.99, "currency": "USD"}, "method": "card"}`, "amount.amount", "not a number"},
		{"negative amount", payments, pay(money("-5.00", "USD")), "amount.amount", "greater than zero"},
		{"zero amount", payments, pay(money("0.00", "USD")), "amount.amount", "greater than zero"},
		{"NaN amount", payments, pay(money("NaN", "USD")), "amount.amount", "plain decimal"},
		{"Infinity amount", payments, pay(money("Infinity", "USD")), "amount.amount", "plain decimal"},
		{"exponent amount", payments, pay(money("1e3", "USD")), "amount.amount", "plain decimal"},
		{"30-digit amount", payments, pay(money(strings.Repeat("9", 30)+".00", "USD")), "amount.amount", "integer digits"},
		{"13-digit amount", payments, pay(money("1000000000000.00", "USD")), "amount.amount", "below 10^12"},
		{"too many decimals", payments, pay(money("1.005", "USD")), "amount.amount", "decimal places"},
		{"unknown currency", payments, pay(money("1.00", "XYZ")), "amount.currency", "ISO 4217"},
		{"lower-case currency", payments, pay(money("1.00", "usd")), "amount.currency", "ISO 4217"},
		{"money as a string", payments, pay("10.00"), "amount", "must be an object"},
		{"money with an extra member", payments, pay(map[string]any{"amount": "1.00", "currency": "USD", "fx": "1"}), "amount", "must be an object"},
		{"unknown method", payments, map[string]any{"amount": money("1.00", "USD"), "method": "cheque"}, "method", "card"},
		{"instant in the wrong format", payments, map[string]any{"amount": money("1.00", "USD"), "method": "card", "received_at": "10/01/2026"}, "received_at", "RFC 3339"},
		{"date in the wrong format", "/v1/services", map[string]any{"customer_id": customer, "plan_code": "fiber_100", "start_date": "10/01/2026", "install_address": "x"}, "start_date", "YYYY-MM-DD"},
		{"date that does not exist", "/v1/services", map[string]any{"customer_id": customer, "plan_code": "fiber_100", "start_date": "2026-02-30", "install_address": "x"}, "start_date", "YYYY-MM-DD"},
		{"period in the wrong format", "/v1/billing-runs", map[string]any{"period": "2026-13"}, "period", "YYYY-MM"},
		{"due days out of range", "/v1/billing-runs", map[string]any{"period": "2026-01", "due_days": 1000}, "due_days", "0 to 365"},
		{"tax rate as a percentage", "/v1/plans", map[string]any{"code": "p", "name": "P", "monthly_price": money("1.00", "USD"), "tax_class": "standard", "tax_rate": "20%"}, "tax_rate", "plain decimal"},
		{"price as a number", "/v1/plans", map[string]any{"code": "p", "name": "P", "monthly_price": 79.99, "tax_class": "standard", "tax_rate": "0"}, "monthly_price", "must be an object"},
		{"plan code with capitals", "/v1/plans", map[string]any{"code": "Fiber", "name": "P", "monthly_price": money("1.00", "USD"), "tax_class": "standard", "tax_rate": "0"}, "code", "a-z"},
		{"wrong type", "/v1/customers", map[string]any{"name": 42, "email": "a@b.c", "billing_address": "x", "currency": "USD"}, "name", "must be a string"},
		{"malformed id", payments[:len(payments)-len(customer)-len("/payments")] + "not-an-id/payments", pay(money("1.00", "USD")), "customer_id", "UUID"},
		{"static IP that is not an address", "/v1/services", map[string]any{"customer_id": customer, "plan_code": "fiber_100", "start_date": "2026-01-10", "install_address": "x", "static_ip": "300.1.1.1"}, "static_ip", "IPv4"},
		{"domain rule on a field", "/v1/customers", map[string]any{"name": "A", "email": "not-an-email", "billing_address": "x", "currency": "USD"}, "email", "name@example.com"},
	}
	for _, tc := range cases {
		r := e.post(tok, tc.path, tc.body)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.name, r.Body)
		assert.Contains(t, r.fields(t), tc.field, "%s: %s", tc.name, r.Body)
		assert.Contains(t, string(r.Body), tc.reason, tc.name)
	}
}

// TestEveryInvalidFieldIsListed: one 400 lists every invalid field of the request, nested
// ones included.
func TestEveryInvalidFieldIsListed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)

	r := e.must(http.StatusBadRequest, tok, "/v1/customers/"+customer+"/payments", map[string]any{
		"amount": money("-1", "EURO"), "method": 7, "external_reference": true, "received_at": "yesterday"})
	assert.ElementsMatch(t, []string{"amount.currency", "method", "external_reference", "received_at"}, r.fields(t))

	r = e.must(http.StatusBadRequest, tok, "/v1/customers", map[string]any{"email": []int{1}, "currency": "usd"})
	assert.ElementsMatch(t, []string{"name", "email", "billing_address", "currency"}, r.fields(t))

	r = e.must(http.StatusBadRequest, tok, "/v1/customers/"+customer+"/invoices", `{"lines": [
		{"description": 5, "quantity": "-1", "unit_price": {"amount": 1.5, "currency": "USD"}, "tax_rate": "2"},
		{"description": "ok", "unit_price": {"amount": "1.00", "currency": "USD"}, "colour": "red"}]}`)
	assert.ElementsMatch(t, []string{"lines[0].description", "lines[0].quantity", "lines[0].unit_price.amount", "lines[0].tax_rate", "lines[1].colour"}, r.fields(t))

	r = e.must(http.StatusBadRequest, tok, "/v1/services", map[string]any{})
	assert.ElementsMatch(t, []string{"customer_id", "plan_code", "start_date", "install_address"}, r.fields(t))
}
