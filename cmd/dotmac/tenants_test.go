package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// foreignCall is how TestForeignTenantSeesNothing calls one documented route.
type foreignCall struct {
	query string         // query string, with {name} replaced by the owner's ids
	body  map[string]any // POST body, valid for the owner (so a refusal is not a 400)
	// want is what another tenant gets: 404 for a route that names the owner's entity, 200
	// (without any of the owner's ids in the body) for a collection of the caller's own rows,
	// 403 for a route that is not tenant data.
	want int
	// public: the answer is the same for everyone (a document), not tenant data.
	public bool
	// config: a POST that writes configuration, not events (its answer has no position).
	config bool
}

// foreignCalls covers every route of the three OpenAPI documents (command, query, admin), by
// "METHOD path".
var foreignCalls = map[string]foreignCall{
	// Command API.
	"GET /openapi.json":                                              {want: http.StatusOK, public: true},
	"POST /v1/customers":                                             {body: map[string]any{"name": "Mallory", "email": "m@example.com", "billing_address": "9 Side St", "currency": "USD"}, want: http.StatusCreated},
	"POST /v1/plans":                                                 {body: map[string]any{"code": "fiber_900", "name": "Fiber 900", "monthly_price": usd("9.00"), "tax_class": "standard", "tax_rate": "0"}, want: http.StatusCreated},
	"POST /v1/services":                                              {body: map[string]any{"customer_id": "{customer_id}", "plan_code": "{plan_code}", "start_date": "2026-01-10", "install_address": "1 Fiber Way"}, want: http.StatusNotFound},
	"POST /v1/billing-runs":                                          {body: map[string]any{"period": "2026-01"}, want: http.StatusCreated},
	"GET /v1/billing-runs/{period}":                                  {want: http.StatusNotFound},
	"POST /v1/plans/{plan_code}/retire":                              {want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/contact":                       {body: map[string]any{"name": "Mallory", "email": "m@example.com", "billing_address": "9 Side St"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/deactivate":                    {body: map[string]any{"reason": "taken over"}, want: http.StatusNotFound},
	"POST /v1/services/{service_id}/activate":                        {want: http.StatusNotFound},
	"POST /v1/services/{service_id}/suspend":                         {body: map[string]any{"reason": "requested"}, want: http.StatusNotFound},
	"POST /v1/services/{service_id}/resume":                          {want: http.StatusNotFound},
	"POST /v1/services/{service_id}/change-plan":                     {body: map[string]any{"plan_code": "{plan_code}", "effective_date": "2026-01-20"}, want: http.StatusNotFound},
	"POST /v1/services/{service_id}/terminate":                       {body: map[string]any{"last_day": "2026-01-31", "reason": "moving"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/invoices":                      {body: map[string]any{"lines": []any{map[string]any{"description": "Router", "unit_price": usd("50.00")}}}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/invoices/{invoice_id}/lines":   {body: map[string]any{"description": "Cable", "unit_price": usd("5.00")}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/invoices/{invoice_id}/issue":   {body: map[string]any{"due_date": "2026-01-24"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/invoices/{invoice_id}/void":    {body: map[string]any{"reason": "mistake"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/payments":                      {body: map[string]any{"amount": usd("10.00"), "method": "card"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/payments/{payment_id}/refunds": {body: map[string]any{"amount": usd("1.00"), "reason": "goodwill"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/credit-notes":                  {body: map[string]any{"net": usd("1.00"), "reason": "outage"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/opening-balance":               {body: map[string]any{"amount": usd("12.00"), "as_of": "2025-12-31"}, want: http.StatusNotFound},
	"POST /v1/customers/{customer_id}/apply-credit":                  {want: http.StatusNotFound},
	"POST /v1/receipts/{receipt_id}/allocations":                     {body: map[string]any{"customer_id": "{customer_id}"}, want: http.StatusNotFound},
	// A provider callback takes no token: unsigned, it is refused whoever sends it.
	"POST /v1/providers/{provider}/callbacks": {body: map[string]any{"id": "evt_1", "type": "payment_intent.succeeded"}, want: http.StatusBadRequest, public: true},
	// Webhooks (configuration of the command side; the delivery log on the query API).
	"POST /v1/webhooks/endpoints":                                                  {body: map[string]any{"url": "{webhook_url}", "event_types": []string{"customers.*"}}, want: http.StatusCreated, config: true},
	"POST /v1/webhooks/endpoints/{endpoint_id}/settings":                           {body: map[string]any{"description": "taken over"}, want: http.StatusNotFound},
	"POST /v1/webhooks/endpoints/{endpoint_id}/enable":                             {want: http.StatusNotFound},
	"POST /v1/webhooks/endpoints/{endpoint_id}/disable":                            {want: http.StatusNotFound},
	"POST /v1/webhooks/endpoints/{endpoint_id}/rotate-secret":                      {want: http.StatusNotFound},
	"POST /v1/webhooks/endpoints/{endpoint_id}/replay":                             {body: map[string]any{"from_position": 0}, want: http.StatusNotFound},
	"POST /v1/webhooks/endpoints/{endpoint_id}/deliveries/{delivery_id}/redeliver": {want: http.StatusNotFound},
	"GET /v1/webhooks/endpoints":                                                   {want: http.StatusOK},
	"GET /v1/webhooks/endpoints/{endpoint_id}":                                     {want: http.StatusNotFound},
	"GET /v1/webhooks/endpoints/{endpoint_id}/deliveries":                          {want: http.StatusNotFound},
	// Query API.
	"GET /v1/customers":                             {want: http.StatusOK},
	"GET /v1/customers/{customer_id}":               {want: http.StatusNotFound},
	"GET /v1/customers/{customer_id}/balance":       {want: http.StatusNotFound},
	"GET /v1/customers/{customer_id}/statement":     {want: http.StatusNotFound},
	"GET /v1/customers/{customer_id}/invoices":      {want: http.StatusNotFound},
	"GET /v1/services":                              {query: "customer_id={customer_id}", want: http.StatusOK},
	"GET /v1/services/{service_id}":                 {want: http.StatusNotFound},
	"GET /v1/plans":                                 {want: http.StatusOK},
	"GET /v1/plans/{plan_code}":                     {want: http.StatusNotFound},
	"GET /v1/invoices":                              {query: "customer_id={customer_id}", want: http.StatusOK},
	"GET /v1/invoices/{invoice_id}":                 {want: http.StatusNotFound},
	"GET /v1/payments":                              {query: "customer_id={customer_id}", want: http.StatusOK},
	"GET /v1/payments/{payment_id}":                 {want: http.StatusNotFound},
	"GET /v1/credit-notes/{credit_note_id}":         {want: http.StatusNotFound},
	"GET /v1/receipts":                              {want: http.StatusOK},
	"GET /v1/receipts/{receipt_id}":                 {want: http.StatusNotFound},
	"GET /v1/journal":                               {query: "customer_id={customer_id}", want: http.StatusOK},
	"GET /v1/trial-balance":                         {want: http.StatusOK},
	"GET /v1/reports/ar-aging":                      {query: "as_of=2026-03-01", want: http.StatusOK},
	"GET /v1/reports/mrr":                           {query: "from=2026-01&to=2026-03", want: http.StatusOK},
	"GET /v1/audit/customers/{customer_id}/history": {want: http.StatusNotFound},
	"GET /v1/audit/services/{service_id}/history":   {want: http.StatusNotFound},
	"GET /v1/audit/plans/{code}/history":            {want: http.StatusNotFound},
	"GET /v1/audit/customers/{customer_id}/as-of":   {query: "date=2026-02-01", want: http.StatusNotFound},
	"GET /v1/audit/trial-balance":                   {want: http.StatusOK},
	"GET /v1/audit/verify":                          {want: http.StatusOK},
	"GET /v1/audit/export":                          {query: "period=2026-01", want: http.StatusNotFound}, // globex has nothing to export
	// Admin API (the admin listener): operators only, whatever the tenant token's permissions.
	"GET /v1/projections":                 {want: http.StatusForbidden},
	"GET /v1/projections/{name}":          {want: http.StatusForbidden},
	"POST /v1/projections/{name}/rebuild": {body: map[string]any{"as_of": "2026-01-31", "into": "globex_copy"}, want: http.StatusForbidden},
	"POST /v1/projections/{name}/retry":   {body: map[string]any{"tenants": []string{"globex"}}, want: http.StatusForbidden},
	"GET /v1/projection-copies":           {want: http.StatusForbidden},
	"DELETE /v1/projection-copies/{name}": {want: http.StatusForbidden},
	"POST /v1/audit/checkpoints":          {want: http.StatusForbidden},
}

// TestForeignTenantSeesNothing walks every route the three listeners document (their served
// /openapi.json: command, query, admin) with another tenant's token and the ids of acme's entities: a route naming
// one of them answers 404 (problem+json), as if it did not exist; a collection answers the
// caller's own rows, none of acme's; acme's data is unchanged. A route the table does not
// know fails the test: a new route must say what a foreign tenant gets.
func TestForeignTenantSeesNothing(t *testing.T) {
	t.Parallel()
	providersFile := filepath.Join(t.TempDir(), "providers.json")
	require.NoError(t, os.WriteFile(providersFile, []byte(`{"stripe": [{"tenant": "acme", "secrets": ["`+foreignStripeSecret+`"]}]}`), 0o600))
	s := startServerOn(t, pgtest.SchemaURL(t), "--process-managers=false", "--payment-providers", providersFile, "--webhook-allow-loopback")
	acme, globex := s.mint(t, "acme"), s.mint(t, "globex")
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	t.Cleanup(receiver.Close)
	endpoint := seedWebhook(t, s, acme, receiver.URL+"/acme")
	ids := seedForeignTarget(t, s, acme)
	ids["receipt_id"] = seedReceipt(t, s)
	ids["endpoint_id"], ids["delivery_id"] = endpoint, firstDelivery(t, s, acme, endpoint)
	params := maps.Clone(ids) // the path parameters: acme's ids, a projection's name and a provider
	params["name"], params["provider"] = "customers", "stripe"
	params["webhook_url"] = receiver.URL + "/globex"
	seen := map[string]bool{}
	var last uint64 // the position of the last command globex got done
	for _, base := range []string{s.command, s.query, s.admin} {
		for _, route := range documentedRoutes(t, s, base) {
			seen[route] = true
			call, ok := foreignCalls[route]
			if !ok {
				t.Errorf("%s (%s): the test does not know how to call it; add it to foreignCalls", route, base)
				continue
			}
			method, path, _ := strings.Cut(route, " ")
			target := base + fill(path, params)
			if call.query != "" {
				target += "?" + fill(call.query, params)
			}
			var body any
			if call.body != nil {
				body = fillAny(call.body, params)
			}
			got := s.do(t, method, target, globex, fmt.Sprintf("foreign-%d", len(seen)), body)
			if !assert.Equal(t, call.want, got.status, "%s as another tenant: %s", route, got.body) {
				continue
			}
			if got.status >= 400 {
				assert.Equal(t, "application/problem+json", got.header.Get("Content-Type"), "%s: a problem, not an unrouted path", route)
				continue // a problem may repeat the id the caller sent
			}
			if method == http.MethodPost && !call.config {
				last = max(last, position(t, got.json(t)))
			}
			for name, id := range ids {
				assert.False(t, !call.public && strings.Contains(string(got.body), id), "%s shows acme's %s: %.300s", route, name, got.body)
			}
		}
	}
	for route := range foreignCalls {
		assert.True(t, seen[route], "foreignCalls names %s, which neither document has", route)
	}
	// acme's account is as it was.
	c := s.do(t, http.MethodGet, s.query+"/v1/customers/"+ids["customer_id"], acme, "", nil)
	require.Equal(t, http.StatusOK, c.status, "%s", c.body)
	assert.Equal(t, "Acme Customer", c.json(t)["name"])
	inv := s.do(t, http.MethodGet, s.query+"/v1/invoices/"+ids["invoice_id"], acme, "", nil)
	require.Equal(t, http.StatusOK, inv.status, "%s", inv.body)
	assert.Equal(t, "partially_paid", inv.json(t)["status"])
	after := "?min_position=" + strconv.FormatUint(last, 10)
	list := s.do(t, http.MethodGet, s.query+"/v1/customers/"+ids["customer_id"]+"/invoices"+after, acme, "", nil)
	require.Equal(t, http.StatusOK, list.status, "%s", list.body)
	items, ok := list.json(t)["items"].([]any)
	require.True(t, ok, "%s", list.body)
	assert.Len(t, items, 1, "globex's billing run billed none of acme's services")
}

// mint returns a token of tenant with every permission.
func (s *server) mint(t *testing.T, tenant string) string {
	t.Helper()
	tok, err := s.key.Mint(auth.Principal{Subject: "tenancy-" + tenant, Tenant: tenant, Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	return tok
}

func usd(amount string) map[string]any { return map[string]any{"amount": amount, "currency": "USD"} }

// seedForeignTarget gives tenant tok a plan, a customer with an active service, an issued
// invoice, a payment and a credit note, waits until every read model shows them, and
// returns their ids by path parameter name.
func seedForeignTarget(t *testing.T, s *server, tok string) map[string]string {
	t.Helper()
	n := 0
	post := func(path string, body any) map[string]any {
		n++
		r := s.do(t, http.MethodPost, s.command+path, tok, fmt.Sprintf("seed-%d", n), body)
		require.Contains(t, []int{http.StatusOK, http.StatusCreated}, r.status, "POST %s: %s", path, r.body)
		return r.json(t)
	}
	post("/v1/plans", map[string]any{"code": "fiber_100", "name": "Fiber 100", "monthly_price": usd("79.99"), "tax_class": "standard", "tax_rate": "0"})
	customer := idOf(t, post("/v1/customers", map[string]any{"name": "Acme Customer", "email": "acme@example.com", "billing_address": "1 Main St", "currency": "USD"}))
	c := "/v1/customers/" + customer
	service := idOf(t, post("/v1/services", map[string]any{"customer_id": customer, "plan_code": "fiber_100", "start_date": "2026-01-10", "install_address": "1 Main St"}))
	post("/v1/services/"+service+"/activate", nil)
	invoice := idOf(t, post(c+"/invoices", map[string]any{"lines": []any{map[string]any{"description": "Router", "unit_price": usd("50.00")}}}))
	post(c+"/invoices/"+invoice+"/issue", map[string]any{"due_date": "2026-12-31"})
	payment := idOf(t, post(c+"/payments", map[string]any{"amount": usd("20.00"), "method": "card"}))
	last := post(c+"/credit-notes", map[string]any{"net": usd("1.00"), "reason": "outage"})
	// A billing run of acme's that bills nothing (its service starts in 2026-01), so that
	// GET /v1/billing-runs/{period} has a run for acme and none for globex.
	post("/v1/billing-runs", map[string]any{"period": "2025-12"})
	pos := strconv.FormatUint(position(t, last), 10)
	for _, path := range []string{c, c + "/balance", "/v1/services/" + service, "/v1/invoices/" + invoice, "/v1/journal", "/v1/reports/mrr?from=2026-01&to=2026-01"} {
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		r := s.do(t, http.MethodGet, s.query+path+sep+"min_position="+pos, tok, "", nil)
		require.Equal(t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
	}
	return map[string]string{"customer_id": customer, "service_id": service, "invoice_id": invoice, "payment_id": payment,
		"credit_note_id": idOf(t, last), "plan_code": "fiber_100", "code": "fiber_100", "period": "2025-12"}
}

// idOf returns the id a command's answer names.
func idOf(t *testing.T, answer map[string]any) string {
	t.Helper()
	id, ok := answer["id"].(string)
	require.True(t, ok, "no id in %v", answer)
	return id
}

// documentedRoutes returns "METHOD path" of every operation in the server's /openapi.json.
func documentedRoutes(t *testing.T, s *server, base string) []string {
	t.Helper()
	r := s.do(t, http.MethodGet, base+"/openapi.json", "", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	var out []string
	for path, ops := range doc.Paths {
		for method := range ops {
			switch method {
			case "get", "post", "put", "patch", "delete":
				out = append(out, strings.ToUpper(method)+" "+path)
			}
		}
	}
	sort.Strings(out)
	require.NotEmpty(t, out)
	return out
}

// fill replaces each {name} in s with ids[name], escaped for a URL.
func fill(s string, ids map[string]string) string {
	for name, id := range ids {
		s = strings.ReplaceAll(s, "{"+name+"}", url.PathEscape(id))
	}
	return s
}

// fillAny is fill over the string values of a body; a value that is exactly "{name}" becomes
// ids[name] as it is (a URL in a body is not escaped).
func fillAny(body map[string]any, ids map[string]string) map[string]any {
	out := make(map[string]any, len(body))
	for k, v := range body {
		if s, ok := v.(string); ok {
			if id, whole := ids[strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")]; whole && strings.HasPrefix(s, "{") {
				v = id
			} else {
				v = fill(s, ids)
			}
		}
		out[k] = v
	}
	return out
}

const foreignStripeSecret = "whsec_foreign_test_0123456789"

// seedReceipt books a receipt of acme's (a signed Stripe payment naming nobody) and returns
// its id.
func seedReceipt(t *testing.T, s *server) string {
	t.Helper()
	body := []byte(`{"id":"evt_foreign","type":"payment_intent.succeeded","created":` + strconv.FormatInt(time.Now().Unix(), 10) +
		`,"data":{"object":{"id":"pi_foreign","amount":1000,"currency":"usd","metadata":{"customer_id":"nobody"}}}}`)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.command+"/v1/providers/stripe/callbacks", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Stripe-Signature", providers.SignStripe(body, foreignStripeSecret, time.Now()))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct{ Outcome, ID string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	require.Equal(t, "unallocated", out.Outcome)
	return out.ID
}

// seedWebhook registers an endpoint of tok's tenant for its customers' events and returns
// its id.
func seedWebhook(t *testing.T, s *server, tok, url string) string {
	t.Helper()
	r := s.do(t, http.MethodPost, s.command+"/v1/webhooks/endpoints", tok, "seed-webhook",
		map[string]any{"url": url, "event_types": []string{"customers.*"}})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	return idOf(t, r.json(t))
}

// firstDelivery waits for the endpoint's first delivery and returns its id.
func firstDelivery(t *testing.T, s *server, tok, endpoint string) string {
	t.Helper()
	var id string
	require.Eventually(t, func() bool {
		r := s.do(t, http.MethodGet, s.query+"/v1/webhooks/endpoints/"+endpoint+"/deliveries", tok, "", nil)
		items, _ := r.json(t)["items"].([]any)
		if r.status != http.StatusOK || len(items) == 0 {
			return false
		}
		first, _ := items[0].(map[string]any)
		id, _ = first["id"].(string)
		return id != ""
	}, time.Minute, 20*time.Millisecond, "no delivery of the endpoint's events")
	return id
}
