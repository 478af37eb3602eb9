package readapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Invalid parameters are a 400 that names the field.
func TestInvalidParametersNameTheField(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	for _, tc := range []struct{ path, field string }{
		{"/v1/customers/not-a-uuid", "customer_id"},
		{"/v1/customers/01940000-0000-7000-8000-00000000010G", "customer_id"},
		{"/v1/customers?status=gone", "status"},
		{"/v1/customers?limit=0", "limit"},
		{"/v1/customers?limit=501", "limit"},
		{"/v1/customers?limit=ten", "limit"},
		{"/v1/customers?min_position=-1", "min_position"},
		{"/v1/customers?min_position=x", "min_position"},
		{"/v1/customers?wait=forever", "wait"},
		{"/v1/customers?wait=31s", "wait"},
		{"/v1/customers/" + id(101) + "/statement?from=2026-13-01", "from"},
		{"/v1/customers/" + id(101) + "/statement?to=yesterday", "to"},
		{"/v1/services?customer_id=42", "customer_id"},
		{"/v1/services?status=paused", "status"},
		{"/v1/services?plan=Fiber-100", "plan"},
		{"/v1/plans/Fiber", "plan_code"},
		{"/v1/invoices?status=overdue", "status"},
		{"/v1/invoices?overdue=yes", "overdue"},
		{"/v1/invoices?due_before=2026-02-30", "due_before"},
		{"/v1/invoices?due_after=01/02/2026", "due_after"},
		{"/v1/invoices?period=2026-1", "period"},
		{"/v1/invoices/" + id(201) + "x", "invoice_id"},
		{"/v1/payments?customer_id=" + id(101) + "&limit=-3", "limit"},
		{"/v1/journal?account=1234", "account"},
		{"/v1/journal?account=cash", "account"},
		{"/v1/trial-balance?as_of_position=soon", "as_of_position"},
		{"/v1/reports/ar-aging?as_of=2026-02-29", "as_of"},
		{"/v1/reports/mrr?from=2026", "from"},
		{"/v1/reports/mrr?to=2026-00", "to"},
		{"/v1/invoices?cursor=abc", "cursor"},
		{"/v1/customers/" + id(101) + "?limit=5", "limit"}, // not a list
	} {
		r := e.get(tok, tc.path)
		require.Equal(t, http.StatusBadRequest, r.Status, "%s: %s", tc.path, r.Body)
		assert.Equal(t, tc.field, fieldOf(t, r), tc.path)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"))
	}
	// Every invalid field is listed.
	r := e.get(tok, "/v1/invoices?status=x&overdue=y&limit=0")
	require.Equal(t, http.StatusBadRequest, r.Status)
	assert.Len(t, r.json(t)["errors"], 3)
	// The min_position header and parameter must agree.
	r = e.get(tok, "/v1/customers?min_position=3", "X-Min-Position", "4")
	require.Equal(t, http.StatusBadRequest, r.Status)
	assert.Equal(t, "min_position", fieldOf(t, r))
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/customers", "X-Min-Position", "soon").Status)
}

// ETag is a strong hash of the body: the same answer has the same ETag and If-None-Match
// gives a 304 (with the ETag and position, no body); a changed answer has another ETag.
func TestETagAndNotModified(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	for _, path := range []string{"/v1/invoices/" + id(204), "/v1/customers/" + id(101) + "/invoices", "/v1/trial-balance"} {
		first := e.ok(tok, path)
		etag := first.Header.Get("ETag")
		require.Regexp(t, `^"[0-9a-f]{32}"$`, etag)
		assert.Equal(t, etag, e.ok(tok, path).Header.Get("ETag"), path)
		for _, inm := range []string{etag, `"x", ` + etag, "W/" + etag, "*"} {
			r := e.get(tok, path, "If-None-Match", inm)
			require.Equal(t, http.StatusNotModified, r.Status, "%s If-None-Match %s", path, inm)
			assert.Empty(t, r.Body)
			assert.Equal(t, etag, r.Header.Get("ETag"))
			assert.Equal(t, "43", r.Header.Get("X-Ledger-Position"))
		}
		assert.Equal(t, http.StatusOK, e.get(tok, path, "If-None-Match", `"other"`).Status)
	}
	// Another page, another body, another ETag.
	a := e.ok(tok, "/v1/journal?limit=2").Header.Get("ETag")
	b := e.ok(tok, "/v1/journal?limit=3").Header.Get("ETag")
	assert.NotEqual(t, a, b)
}
