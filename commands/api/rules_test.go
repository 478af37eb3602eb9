package api_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
)

// TestDomainRulesAnswer422WithDetails: a command the domain refuses answers 422 naming the
// rule, with the typed error's fields as problem members.
func TestDomainRulesAnswer422WithDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	ids := e.tenantWithEverything(tok) // invoice of 30.00 paid by 40.00: 10.00 credit
	c := "/v1/customers/" + ids["customer_id"]
	draft := e.must(http.StatusCreated, tok, c+"/invoices", map[string]any{}).str(t, "id")
	lined := e.must(http.StatusCreated, tok, c+"/invoices", exampleBody("createInvoice", nil)).str(t, "id")
	e.must(http.StatusCreated, tok, c+"/payments", map[string]any{"amount": money("1.00", "USD"), "method": "card", "external_reference": "ch_9"})
	open := e.issuedInvoice(tok, ids["customer_id"], "30.00") // the 11.00 of credit settles part of it: 19.00 owed
	cases := []struct {
		name, path string
		body       any
		rule       string
		members    map[string]any
	}{
		{"refund above the payment", c + "/payments/" + ids["payment_id"] + "/refunds", map[string]any{"amount": money("50.00", "USD"), "reason": "x"},
			"refund_exceeds_payment", map[string]any{"requested": money("50.00", "USD"), "refundable": money("40.00", "USD"), "payment": ids["payment_id"]}},
		{"refund above the credit", c + "/payments/" + ids["payment_id"] + "/refunds", map[string]any{"amount": money("20.00", "USD"), "reason": "x"},
			"refund_exceeds_credit", map[string]any{"available": money("0.00", "USD")}},
		{"payment in another currency", c + "/payments", map[string]any{"amount": money("5.00", "EUR"), "method": "card"},
			"currency_mismatch", map[string]any{"want": "USD", "got": "EUR"}},
		{"issue an empty draft", c + "/invoices/" + draft + "/issue", map[string]any{"due_date": "2026-01-24"}, "empty_invoice", map[string]any{"invoice": draft}},
		{"due before issue", c + "/invoices/" + lined + "/issue", map[string]any{"due_date": "2026-01-01"}, "due_before_issue", nil},
		{"issue twice", c + "/invoices/" + ids["invoice_id"] + "/issue", map[string]any{"due_date": "2026-01-24"},
			"invalid_transition", map[string]any{"from": "paid", "to": "issued", "entity": "invoice"}},
		{"void a paid invoice", c + "/invoices/" + ids["invoice_id"] + "/void", map[string]any{"reason": "x"}, "invalid_transition", nil},
		{"credit a paid invoice", c + "/credit-notes", map[string]any{"invoice_id": ids["invoice_id"], "net": money("1.00", "USD"), "reason": "x"},
			"invoice_not_open", map[string]any{"invoice_status": "paid"}},
		{"plan defined twice", "/v1/plans", exampleBody("definePlan", nil), "already_exists", map[string]any{"entity": "plan", "id": "fiber_100"}},
		{"activate twice", "/v1/services/" + ids["service_id"] + "/activate", nil, "invalid_transition", map[string]any{"from": "active"}},
		{"plan change before billing started", "/v1/services/" + ids["service_id"] + "/change-plan", map[string]any{"plan_code": "fiber_500", "effective_date": "2025-12-01"},
			"date_not_allowed", map[string]any{"field": "effective_date", "date": "2025-12-01"}},
		{"terminate before the start", "/v1/services/" + ids["service_id"] + "/terminate", map[string]any{"last_day": "2025-12-31"}, "date_not_allowed", nil},
		{"resume an active service", "/v1/services/" + ids["service_id"] + "/resume", nil, "invalid_transition", map[string]any{"from": "active", "to": "active"}},
		{"a line on an issued invoice", c + "/invoices/" + ids["invoice_id"] + "/lines", exampleBody("addInvoiceLine", nil), "invalid_transition", map[string]any{"to": "edited"}},
		{"a repeated external reference", c + "/payments", map[string]any{"amount": money("1.00", "USD"), "method": "card", "external_reference": "ch_9"},
			"already_exists", nil},
		{"credit a draft", c + "/credit-notes", map[string]any{"invoice_id": lined, "net": money("1.00", "USD"), "reason": "x"},
			"invoice_not_open", map[string]any{"invoice_status": "draft"}},
		{"a line too large to store", c + "/invoices", map[string]any{"lines": []any{map[string]any{"description": "Transit", "quantity": "999999.999999",
			"unit_price": money("999999999999.99", "USD"), "tax_rate": "1"}}},
			"amount_limit", map[string]any{"field": "line_net", "amount": money("999999999998990000.00", "USD"), "limit": money("1000000000000000.00", "USD")}},
		{"credit above what is owed", c + "/credit-notes", map[string]any{"invoice_id": open, "net": money("25.00", "USD"), "reason": "x"},
			"credit_exceeds_outstanding", map[string]any{"outstanding": money("19.00", "USD"), "requested": money("25.00", "USD")}},
	}
	for _, tc := range cases {
		r := e.post(tok, tc.path, tc.body)
		require.Equal(t, http.StatusUnprocessableEntity, r.Status, "%s: %s", tc.name, r.Body)
		body := r.JSON(t)
		assert.Equal(t, tc.rule, body["rule"], "%s: %s", tc.name, r.Body)
		for k, v := range tc.members {
			assert.Equal(t, v, body[k], "%s: member %s in %s", tc.name, k, r.Body)
		}
	}

	e.must(http.StatusOK, tok, "/v1/plans/fiber_500/retire", nil)
	assert.Equal(t, "invalid_transition", e.must(http.StatusUnprocessableEntity, tok, "/v1/plans/fiber_500/retire", nil).JSON(t)["rule"])
	e.must(http.StatusOK, tok, "/v1/services/"+ids["service_id"]+"/suspend", map[string]any{"reason": "requested"})
	assert.Equal(t, "invalid_transition", e.must(http.StatusUnprocessableEntity, tok, "/v1/services/"+ids["service_id"]+"/suspend",
		map[string]any{"reason": "requested"}).JSON(t)["rule"])
	e.must(http.StatusOK, tok, "/v1/services/"+ids["service_id"]+"/terminate", map[string]any{"last_day": "2026-01-31"})
	assert.Equal(t, "invalid_transition", e.must(http.StatusUnprocessableEntity, tok, "/v1/services/"+ids["service_id"]+"/terminate",
		map[string]any{"last_day": "2026-01-31"}).JSON(t)["rule"])
	r := e.must(http.StatusUnprocessableEntity, tok, "/v1/services", map[string]any{"customer_id": ids["customer_id"], "plan_code": "fiber_500",
		"start_date": "2026-01-10", "install_address": "x"})
	assert.Equal(t, "plan_retired", r.JSON(t)["rule"])

	e.must(http.StatusOK, tok, c+"/deactivate", nil)
	r = e.must(http.StatusUnprocessableEntity, tok, c+"/invoices", map[string]any{})
	assert.Equal(t, "customer_inactive", r.JSON(t)["rule"])
	r = e.must(http.StatusUnprocessableEntity, tok, c+"/deactivate", nil)
	assert.Equal(t, "invalid_transition", r.JSON(t)["rule"])
}

// TestUnknownResourcesAnswer404: an id nobody has answers 404 naming the entity.
func TestUnknownResourcesAnswer404(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	ids := e.tenantWithEverything(tok)
	c := "/v1/customers/" + ids["customer_id"]
	cases := []struct {
		name, path string
		body       any
		entity     string
	}{
		{"customer", "/v1/customers/" + someID + "/contact", exampleBody("updateCustomerContact", nil), "customer"},
		{"customer of a payment", "/v1/customers/" + someID + "/payments", exampleBody("recordPayment", nil), "customer"},
		{"invoice", c + "/invoices/" + someID + "/issue", exampleBody("issueInvoice", nil), "invoice"},
		{"invoice of a line", c + "/invoices/" + someID + "/lines", exampleBody("addInvoiceLine", nil), "invoice"},
		{"invoice of a credit note", c + "/credit-notes", map[string]any{"invoice_id": someID, "net": money("1.00", "USD"), "reason": "x"}, "invoice"},
		{"payment", c + "/payments/" + someID + "/refunds", exampleBody("refundPayment", nil), "payment"},
		{"plan", "/v1/plans/fiber_900/retire", nil, "plan"},
		{"plan of a service", "/v1/services", map[string]any{"customer_id": ids["customer_id"], "plan_code": "fiber_900", "start_date": "2026-01-10", "install_address": "x"}, "plan"},
		{"customer of a service", "/v1/services", map[string]any{"customer_id": someID, "plan_code": "fiber_100", "start_date": "2026-01-10", "install_address": "x"}, "customer"},
		{"service", "/v1/services/" + someID + "/suspend", map[string]any{"reason": "requested"}, "service"},
		{"plan of a plan change", "/v1/services/" + ids["service_id"] + "/change-plan", map[string]any{"plan_code": "fiber_900", "effective_date": "2026-01-20"}, "plan"},
	}
	for _, tc := range cases {
		r := e.post(tok, tc.path, tc.body)
		require.Equal(t, http.StatusNotFound, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, tc.entity, r.JSON(t)["entity"], tc.name)
	}
}

// TestEveryIfMatchEndpointAnswers409WhenStale: every endpoint acting on an existing stream
// refuses a stale If-Match with 409 and records nothing.
func TestEveryIfMatchEndpointAnswers409WhenStale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	ids := e.tenantWithEverything(tok)
	head := e.head()
	for _, rt := range api.Routes() {
		if !rt.IfMatch {
			continue
		}
		r := e.post(tok, examplePath(rt.Path, ids), exampleBody(rt.Operation, ids), "If-Match", `"999"`)
		assert.Equal(t, http.StatusConflict, r.Status, "%s %s: %s", rt.Method, rt.Path, r.Body)
	}
	assert.Equal(t, head, e.head())
}

// TestIfMatch: a command decided on the version the client saw; a stale version is a 409
// and records nothing.
func TestIfMatch(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	reg := e.must(http.StatusCreated, tok, "/v1/customers", customerBody())
	customer := reg.str(t, "id")
	contact := "/v1/customers/" + customer + "/contact"
	seen := reg.Header.Get("ETag")
	require.Equal(t, `"1"`, seen)

	ok := e.must(http.StatusOK, tok, contact, exampleBody("updateCustomerContact", nil), "If-Match", seen)
	assert.Equal(t, `"2"`, ok.Header.Get("ETag"))

	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	stale := e.must(http.StatusConflict, tok, contact, map[string]any{"name": "Someone Else", "email": "x@example.com", "billing_address": "x"}, "If-Match", seen)
	assert.Equal(t, "/problems/conflict", stale.JSON(t)["type"])
	assert.InDelta(t, 2, stale.JSON(t)["stream_version"], 0)
	after, err := e.store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, head, after, "a stale If-Match records nothing")

	e.must(http.StatusCreated, tok, "/v1/customers/"+customer+"/payments", exampleBody("recordPayment", nil), "If-Match", `"2"`)
	e.must(http.StatusConflict, tok, "/v1/customers/"+customer+"/payments", exampleBody("recordPayment", nil), "If-Match", `"9"`)
	e.must(http.StatusBadRequest, tok, "/v1/customers/"+customer+"/payments", exampleBody("recordPayment", nil), "If-Match", "three")

	unchanged := e.must(http.StatusOK, tok, contact, exampleBody("updateCustomerContact", nil), "If-Match", `"3"`)
	assert.Equal(t, `"3"`, unchanged.Header.Get("ETag"), "identical details change nothing")
}
