package httpx

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// routeTemplates are path templates of the shapes the APIs use, and some they do not.
var routeTemplates = []string{
	"/healthz",
	"/v1/customers",
	"/v1/customers/{customer_id}/payments",
	"/v1/customers/{customer_id}/payments/{payment_id}/refunds",
	"/v1/customers/{customer_id}/invoices/{invoice_id}/issue",
	"/v1/services/{service_id}/activate",
	"/v1/billing-runs/{run_id}",
	"/v1/x/",
	"/v1/{a}/{b}",
	"/v1/files/{name:.+}",       // a pattern of its own: the expression alone
	"/v1/reports/{year:[0-9]+}", // likewise
	"/v1/invoices/inv-{number}", // a variable inside a literal segment: likewise
	"/",
}

// routePaths are request paths to try against every template.
var routePaths = []string{
	"/", "", "/healthz", "/healthz/", "/v1/customers", "/v1/customers/", "/v1/customers//payments",
	"/v1/customers/0190a2b4-0000-7000-8000-000000000001/payments",
	"/v1/customers/0190a2b4-0000-7000-8000-000000000001/payments/",
	"/v1/customers/c/payments/p/refunds", "/v1/customers/c/payments/p/refund",
	"/v1/customers/c/invoices/i/issue", "/v1/services/s/activate", "/v1/services//activate",
	"/v1/billing-runs/r", "/v1/billing-runs/r/x", "/v1/x/", "/v1/x", "/v1/a/b", "/v1/a/b/",
	"/v1/files/a/b/c", "/v1/reports/2026", "/v1/reports/20x", "/v1/invoices/inv-7", "/v1/invoices/inv-",
	"/V1/customers", "//v1/customers", "/v1/customers/a%2Fb/payments",
}

// matchBoth reports whether a route built by Path and one built by mux's Path alone match
// path, with the variables each sets.
func matchBoth(t *testing.T, tpl, path string) (fast, plain bool, fastVars, plainVars map[string]string) {
	t.Helper()
	u, err := url.Parse("http://example.test")
	require.NoError(t, err)
	u.Path = path
	req := &http.Request{Method: http.MethodPost, URL: u}
	r1, r2 := mux.NewRouter(), mux.NewRouter()
	Path(r1, tpl).Methods(http.MethodPost)
	r2.Path(tpl).Methods(http.MethodPost)
	var m1, m2 mux.RouteMatch
	fast, plain = r1.Match(req, &m1), r2.Match(req, &m2)
	return fast, plain, m1.Vars, m2.Vars
}

// TestPathMatchesAsMuxDoes: for every template and path, the route Path builds matches
// exactly when mux's own does, with the same variables.
func TestPathMatchesAsMuxDoes(t *testing.T) {
	t.Parallel()
	for _, tpl := range routeTemplates {
		for _, path := range routePaths {
			fast, plain, fv, pv := matchBoth(t, tpl, path)
			assert.Equal(t, plain, fast, "template %q, path %q", tpl, path)
			assert.Equal(t, pv, fv, "template %q, path %q", tpl, path)
		}
	}
	// The segment test is there for the default templates, and not for the others.
	for tpl, want := range map[string]bool{"/v1/customers/{customer_id}/payments": true, "/v1/x/": true, "/": true,
		"/v1/files/{name:.+}": false, "/v1/invoices/inv-{number}": false, "v1/no-slash": false} {
		_, ok := templateSegments(tpl)
		assert.Equal(t, want, ok, tpl)
	}
	assert.True(t, segmentsMatch([]segment{{literal: "v1"}, {variable: true}}, "/v1/c"))
	assert.False(t, segmentsMatch([]segment{{literal: "v1"}, {variable: true}}, "/v1/c/d"))
}

// FuzzPathMatchesAsMuxDoes: the same for any path.
func FuzzPathMatchesAsMuxDoes(f *testing.F) {
	for _, p := range routePaths {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, path string) {
		for _, tpl := range routeTemplates {
			fast, plain, fv, pv := matchBoth(t, tpl, path)
			if fast != plain || !assert.ObjectsAreEqual(pv, fv) {
				t.Fatalf("template %q, path %q: Path matched %v %v, mux %v %v", tpl, path, fast, fv, plain, pv)
			}
		}
	})
}
