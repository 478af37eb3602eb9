package api_test

import (
	"net/http"
)

// money writes an amount in JSON.
func money(amount, currency string) map[string]any {
	return map[string]any{"amount": amount, "currency": currency}
}

func customerBody() map[string]any {
	return map[string]any{"name": "Ada Lovelace", "email": "ada@example.com", "phone": "+254 700 000 001",
		"billing_address": "1 Fiber Way, Nairobi", "currency": "USD"}
}

// registerCustomer registers a customer of tok's tenant and returns its id.
func (e *env) registerCustomer(tok string) string {
	e.t.Helper()
	return e.must(http.StatusCreated, tok, "/v1/customers", customerBody()).str(e.t, "id")
}

// definePlan defines plan code at price (USD, no tax).
func (e *env) definePlan(tok, code, price string) {
	e.t.Helper()
	e.must(http.StatusCreated, tok, "/v1/plans", map[string]any{"code": code, "name": "Fiber " + code,
		"monthly_price": money(price, "USD"), "tax_class": "standard", "tax_rate": "0"})
}

// activeService provisions and activates a service of customer on plan from the clock's day.
func (e *env) activeService(tok, customer, plan string) string {
	e.t.Helper()
	id := e.must(http.StatusCreated, tok, "/v1/services", map[string]any{"customer_id": customer, "plan_code": plan,
		"start_date": e.clock.Now().Format("2006-01-02"), "install_address": "1 Fiber Way, Nairobi"}).str(e.t, "id")
	e.must(http.StatusOK, tok, "/v1/services/"+id+"/activate", nil)
	return id
}

// issuedInvoice creates and issues an invoice of one line at amount for customer.
func (e *env) issuedInvoice(tok, customer, amount string) string {
	e.t.Helper()
	inv := e.must(http.StatusCreated, tok, "/v1/customers/"+customer+"/invoices", map[string]any{
		"lines": []any{map[string]any{"description": "Installation", "unit_price": money(amount, "USD")}}}).str(e.t, "id")
	e.must(http.StatusOK, tok, "/v1/customers/"+customer+"/invoices/"+inv+"/issue", map[string]any{"due_date": "2026-01-24"})
	return inv
}
