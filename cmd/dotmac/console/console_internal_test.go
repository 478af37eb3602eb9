package console

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/readapi"
)

func TestFormatAmount(t *testing.T) {
	for in, want := range map[string]string{
		"0": "0", "0.00": "0.00", "12.34": "12.34", "999.99": "999.99", "1000.00": "1,000.00",
		"1234567.891": "1,234,567.891", "-72.57": "−72.57", "-1234.5": "−1,234.5", "100": "100", "123456": "123,456",
	} {
		assert.Equal(t, want, formatAmount(in), in)
	}
	assert.Equal(t, "72.57 USD", formatMoney(readapi.Money{Amount: "72.57", Currency: "USD"}))
	assert.Equal(t, "—", formatMoney(readapi.Money{}))
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"/console/customers?q=a": "/console/customers?q=a", "/console": "/console", "": "",
		"https://evil.example/console": "", "//evil.example": "", "/consolex/../evil": "", "/console/../evil": "", "/console?x=1": "/console?x=1",
		"/other": "", "/console\r\nSet-Cookie: x": "", `/console\\evil`: "",
	} {
		assert.Equal(t, want, safeNext(in), in)
	}
}

func TestSameOrigin(t *testing.T) {
	for _, c := range []struct {
		origin, site string
		want         bool
	}{
		{"", "", true}, {"http://console.example", "same-origin", true}, {"", "none", true},
		{"http://evil.example", "", false}, {"", "cross-site", false}, {"", "same-site", false},
		{"http://console.example", "cross-site", false}, {"null", "", true},
	} {
		r := httptest.NewRequest(http.MethodPost, "http://console.example/console/sign-out", nil)
		if c.origin != "" {
			r.Header.Set("Origin", c.origin)
		}
		if c.site != "" {
			r.Header.Set("Sec-Fetch-Site", c.site)
		}
		assert.Equal(t, c.want, sameOrigin(r), "origin %q site %q", c.origin, c.site)
	}
}

func TestCSRFTokenIsPerSession(t *testing.T) {
	a, b := csrfToken("token-a"), csrfToken("token-b")
	assert.NotEqual(t, a, b)
	assert.Equal(t, a, csrfToken("token-a"))
	assert.NotContains(t, a, "token-a")
}

func TestProgressOf(t *testing.T) {
	running := projections.Status{Name: "invoices", LiveBuild: "b1", Position: 90,
		Building: []projections.Progress{{Build: "b2", Phase: "replaying", Position: 40, Target: 80, EventsPerSecond: 10}}}
	for _, c := range []struct {
		name   string
		st     projections.Status
		copies []projections.Copy
		build  string
		want   progressView
	}{
		{"running", running, nil, "b2", progressView{Build: "b2", Phase: "replaying", Percent: 50, Position: 40, Target: 80, Rate: 10}},
		{"swapped in", projections.Status{LiveBuild: "b2", Position: 95}, nil, "b2",
			progressView{Build: "b2", Phase: "done", Percent: 100, Done: true, Position: 95, Target: 95}},
		{"a copy done", projections.Status{LiveBuild: "b1"}, []projections.Copy{{Name: "c1", Status: "done", Target: eventstore.Position(30)}}, "c1",
			progressView{Build: "c1", Phase: "done", Percent: 100, Done: true, Position: 30, Target: 30}},
		{"a copy failed", projections.Status{LiveBuild: "b1"}, []projections.Copy{{Name: "c1", Status: "failed"}}, "c1",
			progressView{Build: "c1", Phase: "failed", Done: true, Error: "the copy's status is failed"}},
		{"gone", projections.Status{LiveBuild: "b1"}, nil, "b2", progressView{Build: "b2", Phase: "failed", Done: true}},
	} {
		got := progressOf(c.st, c.copies, c.build)
		got.Text = ""
		if c.name == "gone" {
			assert.NotEmpty(t, got.Error, c.name)
			got.Error = ""
		}
		assert.Equal(t, c.want, got, c.name)
	}
	assert.Equal(t, 99.0, progressOf(projections.Status{Building: []projections.Progress{{Build: "b", Position: 80, Target: 80}}}, nil, "b").Percent,
		"100 % only once the build has swapped in")
}

func TestChartsEscapeAndScale(t *testing.T) {
	svg := string(lineChart("x", `<script>"t"</script>`, "d&d", []point{
		{Label: "<b>", Value: decimal.RequireFromString("-5")}, {Label: "b", Value: decimal.RequireFromString("10")}}, true))
	assert.NotContains(t, svg, "<script>")
	assert.NotContains(t, svg, "<b>")
	assert.Contains(t, svg, `role="img"`)
	assert.Contains(t, svg, `aria-labelledby="x-t x-d"`)
	assert.Contains(t, svg, "&lt;script&gt;")
	assert.Contains(t, svg, ">−5<", "the low end of the axis")
	bars := string(barChart("y", "t", "d", []barGroup{{Label: "m", Segments: []segment{
		{Name: "new", Class: "new", Value: decimal.RequireFromString("3")}, {Name: "churned", Class: "churn", Value: decimal.RequireFromString("-2")}}}}))
	assert.Equal(t, 2, strings.Count(bars, "<rect "))
	assert.Contains(t, bars, "m churned: −2.00")
	empty := string(lineChart("z", "t", "d", nil, false))
	assert.NotContains(t, empty, "<path", "nothing to draw")
}

func TestDated(t *testing.T) {
	xs := []string{"2026-01-31T23:00:00Z", "2026-02-01", "2026-01-15"}
	assert.Equal(t, []string{"2026-01-31T23:00:00Z", "2026-01-15"}, dated(xs, "2026-01-31", func(s string) string { return s }))
	assert.Empty(t, dated(xs, "2025-12-31", func(s string) string { return s }))
}

// TestSecureCookieInProduction: with Secure (production), the session cookie is Secure too.
func TestSecureCookieInProduction(t *testing.T) {
	key, err := auth.HS256([]byte(strings.Repeat("console-test-secret-", 3)))
	require.NoError(t, err)
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for _, secure := range []bool{false, true} {
		c, err := New(Config{Key: key, Query: api, Admin: api, Secure: secure,
			Verify: func(*http.Request, audit.VerifyOptions) (*audit.Report, error) { return &audit.Report{OK: true}, nil }})
		require.NoError(t, err)
		r := mux.NewRouter()
		c.Mount(r)
		tok, err := key.Mint(auth.Principal{Subject: "t", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
		require.NoError(t, err)
		req := httptest.NewRequest(http.MethodPost, "/console/sign-in", strings.NewReader(url.Values{"token": {tok}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		require.Equal(t, http.StatusSeeOther, rec.Code)
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1)
		assert.Equal(t, secure, cookies[0].Secure)
		assert.True(t, cookies[0].HttpOnly)
		assert.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)

		// A page whose API call answers an unexpected status shows that status, not a 200.
		page := httptest.NewRequest(http.MethodGet, "/console/customers", nil)
		page.AddCookie(cookies[0])
		rec = httptest.NewRecorder()
		r.ServeHTTP(rec, page)
		assert.Equal(t, http.StatusTeapot, rec.Code)
	}
}

func TestRecorderKeepsNoMoreThanItsLimit(t *testing.T) {
	rec := &recorder{header: http.Header{}, limit: 10}
	n, err := rec.Write([]byte("0123456789"))
	require.NoError(t, err)
	require.Equal(t, 10, n)
	_, err = rec.Write([]byte("x"))
	require.ErrorIs(t, err, errAnswerTooLarge)
	require.True(t, rec.over)
	require.Equal(t, 10, rec.body.Len(), "nothing past the limit is kept")
}

func TestCustomerPageReadsABoundedNumberOfHistories(t *testing.T) {
	const services = maxServiceHistories + 7
	histories := 0
	query := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.HasSuffix(r.URL.Path, "/history") {
			histories++
			_, _ = w.Write([]byte(`{"stream":"s","events":[]}`))
			return
		}
		items := make([]string, services)
		for i := range items {
			items[i] = fmt.Sprintf(`{"service_id":"s%d"}`, i)
		}
		_, _ = w.Write([]byte(`{"items":[` + strings.Join(items, ",") + `],"next_cursor":null}`))
	})
	c := &Console{cfg: Config{Query: query}}
	v := &view{c: c, token: "t"}
	r := httptest.NewRequest(http.MethodGet, "/console/customers/c", nil)
	rows, note, err := c.loadServices(r, v, "c")
	require.NoError(t, err)
	require.Len(t, rows, services, "every service is listed")
	require.Equal(t, maxServiceHistories, histories)
	require.Contains(t, note, fmt.Sprintf("first %d of %d services", maxServiceHistories, services))
}

// The invoice page shows what each credit note took off it (a credit note against the
// account: its allocation, of its total) and the customer credit applied to it.
func TestInvoicePageShowsCreditSettlements(t *testing.T) {
	pages, err := parsePages()
	require.NoError(t, err)
	usd := func(a string) readapi.Money { return readapi.Money{Amount: a, Currency: "USD"} }
	inv := readapi.InvoiceDetail{
		CreditNotes: []readapi.InvoiceCreditNote{{CreditNote: readapi.CreditNote{CreditNoteID: "01940000-0000-7000-8000-000000000411",
			Total: usd("20.00"), Reason: "outage", IssuedAt: "2026-01-08T09:00:00Z"}, Amount: usd("15.00")}},
		CreditApplications: []readapi.CreditApplication{{Amount: usd("10.00"), AppliedOn: "2026-01-06", AppliedAt: "2026-01-07T09:00:00Z"}},
	}
	var buf strings.Builder
	require.NoError(t, pages["invoice"].ExecuteTemplate(&buf, "content", &view{Data: documentData{Kind: "invoice", Invoice: &inv}}))
	assert.Contains(t, buf.String(), "15.00 USD of 20.00 USD against the account (outage)")
	assert.Contains(t, buf.String(), "Customer credit applied 2026-01-06: 10.00 USD")
	assert.NotContains(t, buf.String(), "None.")
}
