package readapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// generatedEnv serves the read models of a generated history of two tenants.
func generatedEnv(t testing.TB) *env {
	t.Helper()
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: 23, Months: 5, Seed: 11,
		Tenants: []domainsim.Tenant{{Name: "acme", Currency: "USD"}, {Name: "gulf", Currency: "BHD"}}})
	require.NoError(t, err)
	return newEnv(t, evs)
}

// walk follows next_cursor from path until the last page and returns every item's key.
func walk(t testing.TB, e *env, tok, path string, key func(map[string]any) string) []string {
	t.Helper()
	var keys []string
	next := path
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "no end to the pages of %s", path)
		var p page[map[string]any]
		require.NoError(t, json.Unmarshal(e.ok(tok, next).Body, &p))
		for _, it := range p.Items {
			keys = append(keys, key(it))
		}
		if p.NextCursor == nil {
			return keys
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		next = path + sep + "cursor=" + url.QueryEscape(*p.NextCursor)
	}
}

func field(name string) func(map[string]any) string {
	return func(m map[string]any) string { return fmt.Sprint(m[name]) }
}

// Walking every list page by page, small pages, returns exactly the rows of one big page (no
// duplicates, no gaps), in order, and exactly the tenant's rows in the read model.
func TestPaginationWalksEveryRowOnce(t *testing.T) {
	t.Parallel()
	e := generatedEnv(t)
	tok := e.token("acme")
	var customer string
	require.NoError(t, e.pool.QueryRow(context.Background(),
		`SELECT customer_id::text FROM invoices WHERE tenant_id = 'acme' GROUP BY 1 ORDER BY count(*) DESC LIMIT 1`).Scan(&customer))
	journalKey := func(m map[string]any) string { return fmt.Sprint(m["position"], "/", m["line_no"]) }
	for _, tc := range []struct {
		path  string
		key   func(map[string]any) string
		count string // SQL counting the rows the walk must return
	}{
		{"/v1/customers", field("customer_id"), `SELECT count(*) FROM customers WHERE tenant_id = 'acme'`},
		{"/v1/customers?status=active", field("customer_id"), `SELECT count(*) FROM customers WHERE tenant_id = 'acme' AND status = 'active'`},
		{"/v1/services", field("service_id"), `SELECT count(*) FROM services WHERE tenant_id = 'acme'`},
		{"/v1/plans", field("plan_code"), `SELECT count(*) FROM plans WHERE tenant_id = 'acme'`},
		{"/v1/invoices", field("invoice_id"), `SELECT count(*) FROM invoices WHERE tenant_id = 'acme'`},
		{"/v1/invoices?status=paid", field("invoice_id"), `SELECT count(*) FROM invoices WHERE tenant_id = 'acme' AND status = 'paid'`},
		{"/v1/customers/" + customer + "/invoices", field("invoice_id"), `SELECT count(*) FROM invoices WHERE tenant_id = 'acme' AND customer_id = '` + customer + `'`},
		{"/v1/payments", field("payment_id"), `SELECT count(*) FROM payments WHERE tenant_id = 'acme'`},
		{"/v1/customers/" + customer + "/statement", field("position"), `SELECT count(*) FROM statement_lines WHERE tenant_id = 'acme' AND customer_id = '` + customer + `'`},
		{"/v1/journal", journalKey, `SELECT count(*) FROM journal_lines WHERE tenant_id = 'acme'`},
		{"/v1/journal?account=1100", journalKey, `SELECT count(*) FROM journal_lines WHERE tenant_id = 'acme' AND account = 1100`},
		{"/v1/reports/ar-aging?as_of=2025-05-20", field("customer_id"), `SELECT count(DISTINCT customer_id) FROM invoices
			WHERE tenant_id = 'acme' AND status IN ('issued', 'partially_paid') AND outstanding > 0 AND issue_date <= '2025-05-20'`},
	} {
		var want int
		require.NoError(t, e.pool.QueryRow(context.Background(), tc.count).Scan(&want))
		require.Positive(t, want, tc.path)
		sep := "?"
		if strings.Contains(tc.path, "?") {
			sep = "&"
		}
		all := walk(t, e, tok, tc.path+sep+"limit=500", tc.key)
		require.Len(t, all, want, tc.path)
		paged := walk(t, e, tok, tc.path+sep+"limit=7", tc.key)
		assert.Equal(t, all, paged, tc.path)
		seen := map[string]bool{}
		for _, k := range paged {
			assert.False(t, seen[k], "%s: %s twice", tc.path, k)
			seen[k] = true
		}
	}
}

// A cursor is bound to its endpoint and filters; an altered one is a 400 naming cursor.
func TestCursorTamperingIs400(t *testing.T) {
	t.Parallel()
	e := generatedEnv(t)
	tok := e.token("acme")
	var p page[map[string]any]
	require.NoError(t, json.Unmarshal(e.ok(tok, "/v1/invoices?limit=5&status=paid").Body, &p))
	require.NotNil(t, p.NextCursor)
	c := *p.NextCursor
	flipped := []byte(c)
	flipped[len(flipped)/2] ^= 1
	for _, path := range []string{
		"/v1/invoices?limit=5&status=paid&cursor=" + string(flipped),
		"/v1/invoices?limit=5&status=paid&cursor=" + c[:len(c)-2],
		"/v1/invoices?limit=5&status=paid&cursor=%25%25%25",
		"/v1/invoices?limit=5&cursor=" + c,               // other filters
		"/v1/payments?limit=5&cursor=" + c,               // another endpoint
		"/v1/invoices?limit=5&status=issued&cursor=" + c, // another filter value
	} {
		r := e.get(tok, path)
		require.Equal(t, http.StatusBadRequest, r.Status, path)
		assert.Equal(t, "cursor", fieldOf(t, r), path)
	}
	// The same filters in another order, another limit or a min_position keep the cursor valid.
	assert.Equal(t, http.StatusOK, e.get(tok, "/v1/invoices?status=paid&limit=9&min_position=1&cursor="+url.QueryEscape(c)).Status)
}
