package readapi_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tenant globex's token sees none of acme's rows: its ids are 404s and lists never show them.
func TestTenantIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	globex, acme := e.token("globex"), e.token("acme")
	for _, path := range []string{"/v1/customers/" + id(101), "/v1/customers/" + id(101) + "/balance",
		"/v1/customers/" + id(101) + "/statement", "/v1/customers/" + id(101) + "/invoices", "/v1/services/" + id(601), "/v1/plans/fiber_100",
		"/v1/invoices/" + id(201), "/v1/payments/" + id(301)} {
		assert.Equal(t, http.StatusOK, e.get(acme, path).Status, path)
		assert.Equal(t, http.StatusNotFound, e.get(globex, path).Status, path)
	}
	// And the other way round.
	assert.Equal(t, http.StatusNotFound, e.get(acme, "/v1/invoices/"+id(206)).Status)
	acmeIDs := []string{id(101), id(102), id(201), id(202), id(203), id(204), id(205), id(301), id(302), id(303), id(601),
		id(602), `"fiber_100"`, `"fiber_500"`, `"voice"`, `"USD"`}
	for _, path := range []string{"/v1/customers", "/v1/services", "/v1/plans", "/v1/invoices", "/v1/payments",
		"/v1/journal", "/v1/trial-balance", "/v1/reports/ar-aging?as_of=2026-03-01",
		"/v1/reports/mrr?from=2026-01&to=2026-03", "/v1/invoices?customer_id=" + id(101), "/v1/payments?customer_id=" + id(102),
		"/v1/journal?customer_id=" + id(101), "/v1/services?customer_id=" + id(101)} {
		body := string(e.ok(globex, path).Body)
		for _, a := range acmeIDs {
			assert.NotContains(t, body, a, "%s shows acme's %s", path, a)
		}
	}
	// globex's own rows are there.
	var invoices page[map[string]any]
	require.NoError(t, json.Unmarshal(e.ok(globex, "/v1/invoices").Body, &invoices))
	require.Len(t, invoices.Items, 1)
	assert.Equal(t, id(206), invoices.Items[0]["invoice_id"])
}
