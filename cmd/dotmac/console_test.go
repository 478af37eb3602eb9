package main

import (
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// consoleUser is a browser without a script: a cookie jar, redirects not followed.
type consoleUser struct {
	s      *server
	client *http.Client
}

// page is one answer of the console.
type page struct {
	status int
	header http.Header
	body   string
}

func newConsoleUser(t *testing.T, s *server) *consoleUser {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &consoleUser{s: s, client: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedIn returns a user signed in with token.
func signedIn(t *testing.T, s *server, token string) *consoleUser {
	t.Helper()
	u := newConsoleUser(t, s)
	p := u.post(t, "/console/sign-in", url.Values{"token": {token}})
	require.Equal(t, http.StatusSeeOther, p.status, p.body)
	return u
}

func (u *consoleUser) get(t *testing.T, path string) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u.s.query+path, nil)
	require.NoError(t, err)
	return u.send(t, req)
}

func (u *consoleUser) post(t *testing.T, path string, form url.Values) page {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u.s.query+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return u.send(t, req)
}

func (u *consoleUser) send(t *testing.T, req *http.Request) page {
	t.Helper()
	resp, err := u.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return page{status: resp.StatusCode, header: resp.Header, body: string(raw)}
}

// csrfOf returns the CSRF token a page's forms carry.
func csrfOf(t *testing.T, p page) string {
	t.Helper()
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(p.body)
	require.NotNil(t, m, "no CSRF token in the page")
	return m[1]
}

// testID returns the text of the element with data-testid id.
func testID(t *testing.T, p page, id string) string {
	t.Helper()
	m := regexp.MustCompile(`data-testid="` + id + `">([^<]*)<`).FindStringSubmatch(p.body)
	require.NotNil(t, m, "no %s in the page", id)
	return html.UnescapeString(m[1])
}

// consolePages are the tenant pages, with acme's ids filled in by fill.
var consolePages = []struct {
	path string
	// ids: the page names one of acme's resources, so another tenant gets a 404.
	ids bool
}{
	{"/console/customers", false},
	{"/console/customers?q=Acme", false},
	{"/console/customers/{customer_id}", true},
	{"/console/customers/{customer_id}?as_of=2026-06-30", true},
	{"/console/invoices/{invoice_id}", true},
	{"/console/payments/{payment_id}", true},
	{"/console/reports/aging", false},
	{"/console/reports/aging?as_of=2026-06-30", false},
	{"/console/reports/mrr?from=2026-01&to=2026-03", false},
	{"/console/ledger/trial-balance", false},
	{"/console/ledger/trial-balance?as_of=2026-06-30", false},
	{"/console/ledger/trial-balance?as_of=2026-06-30&source=replay", false},
	{"/console/ledger/accounts/1100", false},
	{"/console/audit", false},
	{"/console/audit?verify=1", false},
}

// consoleOperatorPages are the operator pages.
var consoleOperatorPages = []string{"/console/ops", "/console/ops/projections/customers", "/console/ops/verify", "/console/ops/verify?run=1"}

// TestConsolePages opens every page as its tenant (200), as another tenant (404 for acme's
// ids, and never a trace of acme elsewhere), as an operator (403) and signed out (to the
// sign-in page); and every operator page as an operator (200) and as a tenant (403).
func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ids := seedForeignTarget(t, s, s.mint(t, "acme"))
	acme, globex, op := signedIn(t, s, s.mint(t, "acme")), signedIn(t, s, s.mint(t, "globex")), signedIn(t, s, s.operatorToken(t, auth.All))
	anon := newConsoleUser(t, s)
	for _, pg := range consolePages {
		path := fill(pg.path, ids)
		got := acme.get(t, path)
		if assert.Equal(t, http.StatusOK, got.status, "%s as its tenant: %.500s", path, got.body) {
			assert.Contains(t, got.header.Get("Content-Type"), "text/html")
			assert.Contains(t, got.header.Get("Content-Security-Policy"), "default-src 'self'")
		}
		other := globex.get(t, path)
		if pg.ids {
			assert.Equal(t, http.StatusNotFound, other.status, "%s as another tenant", path)
		} else {
			assert.Equal(t, http.StatusOK, other.status, "%s as another tenant: %.500s", path, other.body)
		}
		for name, id := range ids {
			if strings.HasSuffix(name, "_id") && other.status != http.StatusNotFound { // a 404 may repeat the id asked for
				assert.NotContains(t, other.body, id, "%s shows acme's %s to globex", path, name)
			}
		}
		assert.Equal(t, http.StatusForbidden, op.get(t, path).status, "%s as an operator", path)
		out := anon.get(t, path)
		assert.Equal(t, http.StatusSeeOther, out.status, "%s signed out", path)
		assert.True(t, strings.HasPrefix(out.header.Get("Location"), "/console/sign-in?next="), "%s signed out: %s", path, out.header.Get("Location"))
	}
	for _, path := range consoleOperatorPages {
		got := op.get(t, path)
		assert.Equal(t, http.StatusOK, got.status, "%s as an operator: %.500s", path, got.body)
		assert.Equal(t, http.StatusForbidden, acme.get(t, path).status, "%s as a tenant", path)
		assert.Equal(t, http.StatusSeeOther, anon.get(t, path).status, "%s signed out", path)
	}
	assert.Equal(t, http.StatusNotFound, acme.get(t, "/console/customers/not-a-uuid").status)
	assert.Equal(t, http.StatusNotFound, acme.get(t, "/console/no-such-page").status)
	assert.Equal(t, http.StatusBadRequest, acme.get(t, fill("/console/customers/{customer_id}?as_of=yesterday", ids)).status)
	assert.Equal(t, http.StatusOK, anon.get(t, "/console/static/console.css").status, "assets need no session")
}

// TestConsoleSession checks the sign-in cookie, the refusals of forged posts and sign-out.
func TestConsoleSession(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	u := newConsoleUser(t, s)
	bad := u.post(t, "/console/sign-in", url.Values{"token": {"not-a-token"}})
	assert.Equal(t, http.StatusUnauthorized, bad.status)
	assert.Contains(t, bad.body, "not valid")
	in := u.post(t, "/console/sign-in", url.Values{"token": {s.mint(t, "acme")}, "next": {"/console/reports/mrr"}})
	require.Equal(t, http.StatusSeeOther, in.status)
	assert.Equal(t, "/console/reports/mrr", in.header.Get("Location"))
	cookie := in.header.Get("Set-Cookie")
	for _, attr := range []string{"dotmac_console=", "Path=/console", "HttpOnly", "SameSite=Strict"} {
		assert.Contains(t, cookie, attr)
	}
	assert.NotContains(t, cookie, "Secure", "not in development (plain HTTP)")
	away := newConsoleUser(t, s).post(t, "/console/sign-in", url.Values{"token": {s.mint(t, "acme")}, "next": {"//evil.example/x"}})
	assert.Equal(t, "/console", away.header.Get("Location"), "next never leaves the console")

	op := signedIn(t, s, s.operatorToken(t, auth.All))
	status := op.get(t, "/console/ops/projections/customers")
	require.Equal(t, http.StatusOK, status.status)
	assert.Equal(t, http.StatusForbidden, op.post(t, "/console/ops/projections/customers/rebuild", url.Values{}).status, "no CSRF token")
	assert.Equal(t, http.StatusForbidden, op.post(t, "/console/ops/projections/customers/rebuild", url.Values{"csrf": {"forged"}}).status)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.query+"/console/ops/projections/customers/rebuild",
		strings.NewReader(url.Values{"csrf": {csrfOf(t, status)}}.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	assert.Equal(t, http.StatusForbidden, op.send(t, req).status, "another origin, even with the token")

	out := u.post(t, "/console/sign-out", url.Values{})
	assert.Equal(t, http.StatusSeeOther, out.status)
	assert.Contains(t, out.header.Get("Set-Cookie"), "Max-Age=0")
	assert.Equal(t, http.StatusSeeOther, u.get(t, "/console/customers").status, "signed out: back to the sign-in page")
}

// TestConsoleFiguresEqualTheAPI: the customer page's balance and statement, and the invoice
// page's figures and as-of state, are the query API's.
func TestConsoleFiguresEqualTheAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tok := s.mint(t, "acme")
	ids := seedForeignTarget(t, s, tok)
	u := signedIn(t, s, tok)
	cust := u.get(t, "/console/customers/"+ids["customer_id"])
	require.Equal(t, http.StatusOK, cust.status)
	var bal struct {
		Balances []struct {
			Balance struct{ Amount, Currency string }
		} `json:"balances"`
	}
	require.NoError(t, json.Unmarshal(s.do(t, http.MethodGet, s.query+"/v1/customers/"+ids["customer_id"]+"/balance", tok, "", nil).body, &bal))
	require.Len(t, bal.Balances, 1)
	assert.Equal(t, bal.Balances[0].Balance.Amount+" "+bal.Balances[0].Balance.Currency, testID(t, cust, "balance"))
	var stmt struct {
		Items []struct {
			BalanceAfter struct{ Amount string } `json:"balance_after"`
		} `json:"items"`
	}
	require.NoError(t, json.Unmarshal(s.do(t, http.MethodGet, s.query+"/v1/customers/"+ids["customer_id"]+"/statement?limit=500", tok, "", nil).body, &stmt))
	require.NotEmpty(t, stmt.Items)
	var want []string
	for _, l := range stmt.Items {
		want = append(want, l.BalanceAfter.Amount)
	}
	var got []string
	for _, m := range regexp.MustCompile(`<td class="bal">([^<]*)</td>`).FindAllStringSubmatch(cust.body, -1) {
		got = append(got, strings.NewReplacer(",", "", "−", "-").Replace(m[1]))
	}
	assert.Equal(t, want, got, "the statement's running balance, line by line")
	assert.Contains(t, cust.body, "Fiber 100", "the service's plan")
	_, why, hasWhy := strings.Cut(cust.body, `id="why"`)
	require.True(t, hasWhy, "the open invoices that make the balance")
	why, _, _ = strings.Cut(why, "</div>")
	assert.Contains(t, why, "/console/invoices/"+ids["invoice_id"], "the partly paid invoice is open")

	before := u.get(t, "/console/customers/"+ids["customer_id"]+"?as_of=2026-06-30")
	require.Equal(t, http.StatusOK, before.status, before.body)
	assert.NotContains(t, before.body, "/console/invoices/"+ids["invoice_id"], "issued today: not there as of June")
	assert.Contains(t, cust.body, "/console/invoices/"+ids["invoice_id"])

	inv := u.get(t, "/console/invoices/"+ids["invoice_id"])
	require.Equal(t, http.StatusOK, inv.status)
	type money struct{ Amount, Currency string }
	var api struct{ Total, Outstanding money }
	require.NoError(t, json.Unmarshal(s.do(t, http.MethodGet, s.query+"/v1/invoices/"+ids["invoice_id"], tok, "", nil).body, &api))
	assert.Equal(t, api.Total.Amount+" "+api.Total.Currency, testID(t, inv, "total"))
	assert.Equal(t, api.Outstanding.Amount+" "+api.Outstanding.Currency, testID(t, inv, "outstanding"))
	events := regexp.MustCompile(`\?at=(\d+)#asof-state`).FindAllStringSubmatch(inv.body, -1)
	require.GreaterOrEqual(t, len(events), 2, "created and issued at least")
	assert.Contains(t, inv.body, "InvoiceIssued")
	assert.Contains(t, inv.body, "Accounts receivable", "the journal entry of the issue")
	issued := u.get(t, "/console/invoices/"+ids["invoice_id"]+"?at="+events[1][1])
	require.Equal(t, http.StatusOK, issued.status)
	assert.Equal(t, "issued", testID(t, issued, "at-status"), "right after the issue, before the payment")
	assert.Equal(t, "50.00", testID(t, issued, "at-outstanding"))
	last := u.get(t, "/console/invoices/"+ids["invoice_id"]+"?at="+events[len(events)-1][1])
	assert.Equal(t, "partially_paid", testID(t, last, "at-status"))
	assert.Equal(t, http.StatusNotFound, u.get(t, "/console/invoices/"+ids["invoice_id"]+"?at=1").status, "not one of its events")

	period := time.Now().UTC().Format("2006-01")
	audit := u.get(t, "/console/audit?period="+period)
	require.Equal(t, http.StatusOK, audit.status, audit.body)
	assert.Contains(t, audit.body, `id="manifest"`)
	assert.Contains(t, audit.body, "journal", "the manifest lists the export's files")
	zip := u.get(t, "/console/audit/export.zip?period="+period)
	require.Equal(t, http.StatusOK, zip.status)
	assert.Equal(t, "application/zip", zip.header.Get("Content-Type"))
	assert.True(t, strings.HasPrefix(zip.body, "PK"), "a zip archive")
	other := signedIn(t, s, s.mint(t, "globex"))
	assert.Equal(t, http.StatusNotFound, other.get(t, "/console/audit/export.zip?period="+period).status, "nothing of acme's to export")
	assert.Equal(t, http.StatusBadRequest, u.get(t, "/console/audit/export.zip?period=2026-13").status)

	found := u.get(t, "/console/customers?q=acme%40example")
	assert.Contains(t, found.body, ids["customer_id"], "search by email")
	byID := u.get(t, "/console/customers?q="+ids["invoice_id"])
	assert.Equal(t, "/console/invoices/"+ids["invoice_id"], byID.header.Get("Location"), "an id opens its page")
}

// TestConsoleRebuildProgress starts a rebuild from the operator page and follows its
// progress to 100 %.
func TestConsoleRebuildProgress(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	seedForeignTarget(t, s, s.mint(t, "acme"))
	op := signedIn(t, s, s.operatorToken(t, auth.All))
	st := op.get(t, "/console/ops/projections/invoices")
	started := op.post(t, "/console/ops/projections/invoices/rebuild", url.Values{"csrf": {csrfOf(t, st)}})
	require.Equal(t, http.StatusSeeOther, started.status, started.body)
	loc, err := url.Parse(started.header.Get("Location"))
	require.NoError(t, err)
	build := loc.Query().Get("build")
	require.NotEmpty(t, build)
	assert.Equal(t, http.StatusOK, op.get(t, loc.String()).status)
	var last progressAnswer
	require.Eventually(t, func() bool {
		p := op.get(t, "/console/ops/projections/invoices/progress?build="+url.QueryEscape(build))
		require.Equal(t, http.StatusOK, p.status, p.body)
		require.NoError(t, json.Unmarshal([]byte(p.body), &last))
		require.Empty(t, last.Error)
		return last.Done
	}, time.Minute, 50*time.Millisecond)
	assert.InDelta(t, 100.0, last.Percent, 0)
	done := op.get(t, loc.String())
	assert.Contains(t, done.body, "is the live build")
	// An as-of copy: the live projection stays, the copy reaches 100 % and is listed.
	// A copy is a schema of the database: a name of this run's, dropped at the end.
	name := fmt.Sprintf("console_copy_%d", time.Now().UnixNano())
	st = op.get(t, "/console/ops/projections/journal")
	copied := op.post(t, "/console/ops/projections/journal/rebuild", url.Values{"csrf": {csrfOf(t, st)},
		"as_of": {time.Now().UTC().Format(time.DateOnly)}, "into": {name}})
	require.Equal(t, http.StatusSeeOther, copied.status, copied.body)
	loc, err = url.Parse(copied.header.Get("Location"))
	require.NoError(t, err)
	build = loc.Query().Get("build")
	require.Eventually(t, func() bool {
		p := op.get(t, "/console/ops/projections/journal/progress?build="+url.QueryEscape(build))
		require.Equal(t, http.StatusOK, p.status, p.body)
		require.NoError(t, json.Unmarshal([]byte(p.body), &last))
		require.Empty(t, last.Error)
		return last.Done
	}, time.Minute, 50*time.Millisecond)
	assert.InDelta(t, 100.0, last.Percent, 0)
	assert.Contains(t, op.get(t, "/console/ops").body, name, "the copy is listed")
	dropped := s.do(t, http.MethodDelete, s.admin+"/v1/projection-copies/"+name, s.operatorToken(t, auth.All), "", nil)
	assert.Less(t, dropped.status, 300, "drop the copy: %s", dropped.body)

	never := op.get(t, "/console/ops/projections/invoices/progress?build=public__invoices_b999")
	require.NoError(t, json.Unmarshal([]byte(never.body), &last))
	assert.True(t, last.Done)
	assert.NotEmpty(t, last.Error, "a build that is neither live nor a copy is not reported done")
}

type progressAnswer struct {
	Percent float64 `json:"percent"`
	Done    bool    `json:"done"`
	Error   string  `json:"error"`
}
