package api_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/auth"
)

// someID is a well-formed UUIDv7 nobody uses.
const someID = "0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f"

// examplePath fills a route's path variables with well-formed ids.
func examplePath(path string, ids map[string]string) string {
	for _, name := range []string{"customer_id", "service_id", "invoice_id", "payment_id", "plan_code", "receipt_id"} {
		v, ok := ids[name]
		if !ok {
			v = someID
			if name == "plan_code" {
				v = "fiber_100"
			}
		}
		path = strings.ReplaceAll(path, "{"+name+"}", v)
	}
	return path
}

// exampleBody is a valid body for each operation, with ids taken from ids.
func exampleBody(op string, ids map[string]string) any {
	id := func(name string) string {
		if v, ok := ids[name]; ok {
			return v
		}
		return someID
	}
	bodies := map[string]any{
		"registerCustomer":      customerBody(),
		"updateCustomerContact": map[string]any{"name": "Ada King", "email": "ada@example.org", "billing_address": "2 Fiber Way, Nairobi"},
		"deactivateCustomer":    map[string]any{"reason": "moved away"},
		"definePlan": map[string]any{"code": "fiber_100", "name": "Fiber 100", "monthly_price": money("79.99", "USD"),
			"tax_class": "standard", "tax_rate": "0"},
		"provisionService": map[string]any{"customer_id": id("customer_id"), "plan_code": "fiber_100", "start_date": "2026-01-10",
			"install_address": "1 Fiber Way"},
		"suspendService":       map[string]any{"reason": "requested"},
		"changeServicePlan":    map[string]any{"plan_code": "fiber_500", "effective_date": "2026-01-20"},
		"terminateService":     map[string]any{"last_day": "2026-01-31", "reason": "moving"},
		"createInvoice":        map[string]any{"lines": []any{map[string]any{"description": "Router", "unit_price": money("50.00", "USD")}}},
		"addInvoiceLine":       map[string]any{"description": "Cable", "quantity": "2", "unit_price": money("5.00", "USD"), "tax_rate": "0.16"},
		"issueInvoice":         map[string]any{"due_date": "2026-01-24"},
		"voidInvoice":          map[string]any{"reason": "issued by mistake"},
		"recordPayment":        map[string]any{"amount": money("10.00", "USD"), "method": "card"},
		"refundPayment":        map[string]any{"amount": money("1.00", "USD"), "reason": "goodwill"},
		"issueCreditNote":      map[string]any{"net": money("1.00", "USD"), "reason": "outage"},
		"recordOpeningBalance": map[string]any{"amount": money("12.00", "USD"), "as_of": "2025-12-31"},
		"runBilling":           map[string]any{"period": "2026-01"},
		"allocateReceipt":      map[string]any{"customer_id": id("customer_id")},
	}
	return bodies[op]
}

// TestOpenAPIDocumentsEveryRoute holds the OpenAPI document against the router: every route
// is documented with its method, and every documented operation is served.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a, err := api.New(api.Config{Handlers: e.handlers, Keys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{}), Auth: testKey})
	require.NoError(t, err)
	r := mux.NewRouter()
	a.Mount(r)
	// The command server mounts the webhook endpoints' routes beside these (cmd/dotmac,
	// commandRoutes); this document describes them.
	wh, err := webhooks.New(e.pool, e.store, webhooks.Config{})
	require.NoError(t, err)
	wh.MountCommands(r, testKey)
	doc := apiDoc.CheckRoutes(t, r)
	for _, rt := range api.Routes() {
		op := doc[rt.Path][strings.ToLower(rt.Method)]
		assert.Equal(t, rt.Operation, op["operationId"], rt.Path)
		assert.Contains(t, op["summary"], "Permission "+rt.Permission, rt.Path)
	}
	for _, rt := range webhooks.CommandRoutes() {
		op := doc[rt.Path][strings.ToLower(rt.Method)]
		assert.Equal(t, rt.Operation, op["operationId"], rt.Path)
		assert.Contains(t, op["summary"], "Permission "+rt.Permission, rt.Path)
	}
}

func TestOpenAPIIsServedWithoutToken(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.do(call{method: http.MethodGet, path: "/openapi.json"})
	require.Equal(t, http.StatusOK, r.Status)
	assert.Contains(t, string(r.Body), `"openapi": "3.1.0"`)
}

// TestEveryEndpointChecksTheRequest: for every endpoint, no token is 401, a token without the
// endpoint's permission is 403, no Idempotency-Key is 400, another content type is 415, a
// 10 MB body is 413 and malformed JSON is 400.
func TestEveryEndpointChecksTheRequest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, rt := range api.Routes() {
		path := examplePath(rt.Path, nil)
		body := exampleBody(rt.Operation, nil)
		others := slices.DeleteFunc(slices.Clone(auth.Known), func(p string) bool { return p == rt.Permission || p == auth.All })
		cases := []struct {
			name   string
			c      call
			status int
		}{
			{"no token", call{path: path, body: body}, http.StatusUnauthorized},
			{"bad token", call{path: path, body: body, token: "not.a.jwt"}, http.StatusUnauthorized},
			{"missing permission", call{path: path, body: body, token: e.token("acme", others...)}, http.StatusForbidden},
			{"no idempotency key", call{path: path, body: body, token: e.token("acme"), header: map[string]string{api.HeaderIdempotencyKey: "-"}}, http.StatusBadRequest},
			{"form body", call{path: path, body: "a=b", token: e.token("acme"), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}}, http.StatusUnsupportedMediaType},
			{"10 MB body", call{path: path, body: `{"name":"` + strings.Repeat("x", 10<<20) + `"}`, token: e.token("acme")}, http.StatusRequestEntityTooLarge},
			{"malformed JSON", call{path: path, body: `{"name": `, token: e.token("acme")}, http.StatusBadRequest},
			{"not an object", call{path: path, body: `[1, 2]`, token: e.token("acme")}, http.StatusBadRequest},
			{"unknown field", call{path: path, body: `{"surprise": 1}`, token: e.token("acme")}, http.StatusBadRequest},
		}
		for _, tc := range cases {
			r := e.do(tc.c)
			assert.Equal(t, tc.status, r.Status, "%s %s: %s: %.300s", rt.Method, rt.Path, tc.name, r.Body)
			assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), "%s: %s", rt.Path, tc.name)
		}
		if rt.Permission != "" {
			r := e.do(call{path: path, body: body, token: e.token("acme", others...)})
			assert.Contains(t, string(r.Body), rt.Permission, "the 403 names the missing permission")
		}
	}
}

// TestEveryEndpointIsTenantScoped: tenant B's token on tenant A's ids answers 404 on every
// endpoint that names an existing resource, and changes nothing.
func TestEveryEndpointIsTenantScoped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.token("tenant-a")
	ids := e.tenantWithEverything(a)
	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	b := e.token("tenant-b")
	for _, rt := range api.Routes() {
		if rt.Operation == "registerCustomer" || rt.Operation == "definePlan" || rt.Operation == "runBilling" {
			continue // they name no existing resource
		}
		r := e.post(b, examplePath(rt.Path, ids), exampleBody(rt.Operation, ids))
		assert.Equal(t, http.StatusNotFound, r.Status, "%s %s: %s", rt.Method, rt.Path, r.Body)
	}
	after, err := e.store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, head, after, "tenant B appended nothing")
}

// tenantWithEverything creates one of each resource for tok's tenant and returns their ids.
func (e *env) tenantWithEverything(tok string) map[string]string {
	e.t.Helper()
	customer := e.registerCustomer(tok)
	e.definePlan(tok, "fiber_100", "79.99")
	e.definePlan(tok, "fiber_500", "119.99")
	service := e.activeService(tok, customer, "fiber_100")
	invoice := e.issuedInvoice(tok, customer, "30.00")
	payment := e.must(http.StatusCreated, tok, "/v1/customers/"+customer+"/payments",
		map[string]any{"amount": money("40.00", "USD"), "method": "cash"}).str(e.t, "id")
	receipt := e.unallocatedReceipt(tok)
	return map[string]string{"customer_id": customer, "service_id": service, "invoice_id": invoice, "payment_id": payment, "plan_code": "fiber_100",
		"receipt_id": receipt}
}

// TestEveryEndpointSucceeds walks every endpoint's success path in one account's life.
func TestEveryEndpointSucceeds(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	covered := walkEveryEndpoint(t, e, tok, func(op string, status int, path string, body any) resp {
		t.Helper()
		return e.must(status, tok, path, body)
	})
	for _, rt := range api.Routes() {
		assert.Contains(t, covered, rt.Operation)
	}
}

// walkEveryEndpoint calls every endpoint's success path once, in one account's life, through
// post (which must answer status), and returns the status of each operation called.
func walkEveryEndpoint(t *testing.T, e *env, tok string, post func(op string, status int, path string, body any) resp) map[string]int {
	t.Helper()
	ids := map[string]string{}
	covered := map[string]int{}
	step := func(op string, status int) resp {
		t.Helper()
		rt := routeOf(t, op)
		r := post(op, status, examplePath(rt.Path, ids), exampleBody(op, ids))
		covered[op] = status
		return r
	}
	ids["customer_id"] = step("registerCustomer", http.StatusCreated).str(t, "id")
	step("updateCustomerContact", http.StatusOK)
	step("definePlan", http.StatusCreated)
	e.definePlan(tok, "fiber_500", "119.99")
	ids["service_id"] = step("provisionService", http.StatusCreated).str(t, "id")
	step("activateService", http.StatusOK)
	step("suspendService", http.StatusOK)
	step("resumeService", http.StatusOK)
	step("changeServicePlan", http.StatusOK)
	step("retirePlan", http.StatusOK)
	ids["invoice_id"] = step("createInvoice", http.StatusCreated).str(t, "id")
	step("addInvoiceLine", http.StatusCreated)
	issued := step("issueInvoice", http.StatusOK).JSON(t)
	assert.Equal(t, "INV-2026-000001", issued["number"])
	assert.Equal(t, money("61.60", "USD"), issued["total"], "50.00 + 2 × 5.00 + 16% tax on 10.00")
	step("voidInvoice", http.StatusOK)
	ids["invoice_id"] = e.issuedInvoice(tok, ids["customer_id"], "5.00")
	ids["payment_id"] = step("recordPayment", http.StatusCreated).str(t, "id") // 5.00 settles the invoice, 5.00 is credit
	step("refundPayment", http.StatusOK)
	step("issueCreditNote", http.StatusCreated)
	step("recordOpeningBalance", http.StatusCreated)
	step("applyCustomerCredit", http.StatusOK)
	ids["receipt_id"] = e.unallocatedReceipt(tok)
	step("allocateReceipt", http.StatusCreated)
	step("runBilling", http.StatusCreated)
	step("terminateService", http.StatusOK)
	step("deactivateCustomer", http.StatusOK)
	return covered
}

func routeOf(t *testing.T, op string) api.Route {
	t.Helper()
	for _, rt := range api.Routes() {
		if rt.Operation == op {
			return rt
		}
	}
	t.Fatalf("no route %s", op)
	return api.Route{}
}
