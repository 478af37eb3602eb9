package api_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestCalendarBadInput: every wrong date of the billing calendar is a 4xx problem naming the
// field, and nothing of the command is applied (the service keeps its state and version).
func TestCalendarBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	e.definePlan(tok, "fiber_100", "79.99")
	e.definePlan(tok, "fiber_500", "119.99")
	service := e.activeService(tok, customer, "fiber_100") // from the clock's day, 2026-01-10
	svc := "/v1/services/" + service
	cases := []struct {
		name, path string
		body       any
		status     int
		field      string
	}{
		{"a date that is not a date", svc + "/change-plan", map[string]any{"plan_code": "fiber_500", "effective_date": "2026-02-30"}, 400, "effective_date"},
		{"a date in another format", svc + "/suspend", map[string]any{"reason": "requested", "effective_date": "10/02/2026"}, 400, "effective_date"},
		{"a termination before the start", svc + "/terminate", map[string]any{"last_day": "2026-01-09"}, 422, "last_day"},
		{"a change effective before the service exists", svc + "/change-plan", map[string]any{"plan_code": "fiber_500", "effective_date": "2025-12-31"}, 422, "effective_date"},
		{"a plan change to the same plan", svc + "/change-plan", map[string]any{"plan_code": "fiber_100", "effective_date": "2026-01-20"}, 400, "plan_code"},
		{"an activation of an active service", svc + "/activate", map[string]any{"effective_date": "2026-01-12"}, 422, ""},
		{"a payment received in the future", "/v1/customers/" + customer + "/payments",
			map[string]any{"amount": money("1.00", "USD"), "method": "card", "received_at": "2026-01-11"}, 400, "received_at"},
		{"a credit note dated in the future", "/v1/customers/" + customer + "/credit-notes",
			map[string]any{"net": money("1.00", "USD"), "reason": "outage", "issued_on": "2026-02-01"}, 400, "issued_on"},
		{"an opening balance of zero", "/v1/customers/" + customer + "/opening-balance", map[string]any{"amount": money("0.00", "USD")}, 400, "amount.amount"},
		{"a billing run for a month not begun", "/v1/billing-runs", map[string]any{"period": "2026-02"}, 400, "period"},
	}
	for _, tc := range cases {
		r := e.post(tok, tc.path, tc.body)
		require.Equal(t, tc.status, r.Status, "%s: %s", tc.name, r.Body)
		if tc.field != "" {
			assert.Contains(t, string(r.Body), `"`+tc.field+`"`, "%s names the field: %s", tc.name, r.Body)
		}
	}
	// Nothing was applied: the next change is the service's third event (provision, activate).
	ok := e.must(http.StatusOK, tok, svc+"/change-plan", map[string]any{"plan_code": "fiber_500", "effective_date": "2026-01-20"})
	assert.Equal(t, `"3"`, ok.Header.Get("ETag"))
}
