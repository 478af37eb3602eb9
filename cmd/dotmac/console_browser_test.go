//go:build browser

package main

// The console end to end in a real headless Chromium (Debian's chromium, driven by chromedp):
// `make test-browser` runs it (the build tag keeps it out of `make test`). Each step writes a
// screenshot under test-output/console/.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

// screenshotDir is where the browser test writes its screenshots (gitignored).
const screenshotDir = "../../test-output/console"

// browser is one Chromium tab on a console.
type browser struct {
	t   *testing.T
	ctx context.Context
	s   *server
}

func newBrowser(t *testing.T, s *server) *browser {
	t.Helper()
	path, err := exec.LookPath("chromium")
	require.NoError(t, err, "the browser test needs Debian's chromium (.ci/run installs it)")
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1280, 900), chromedp.Flag("disable-dev-shm-usage", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser and ties it to its context: the tab's own, not a
	// bounded one, or the browser would end with the first step.
	require.NoError(t, chromedp.Run(ctx, chromedp.EmulateViewport(1280, 900)))
	return &browser{t: t, ctx: ctx, s: s}
}

// run runs actions, bounded so a page that never comes fails the test instead of hanging it.
func (b *browser) run(actions ...chromedp.Action) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	require.NoError(b.t, chromedp.Run(ctx, actions...))
}

// open navigates to path and waits for the page's main element.
func (b *browser) open(path string) {
	b.t.Helper()
	b.run(chromedp.Navigate(b.s.query+path), chromedp.WaitReady("main", chromedp.ByQuery))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	var s string
	b.run(chromedp.Text(sel, &s, chromedp.ByQuery, chromedp.NodeVisible))
	return strings.TrimSpace(s)
}

func (b *browser) eval(js string, out any) {
	b.t.Helper()
	b.run(chromedp.Evaluate(js, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
}

// shot writes a full-page screenshot name.png and checks the page: no horizontal overflow of
// the page itself (wide tables scroll in their own box), no layout shift, every control
// labelled, every chart named.
func (b *browser) shot(name string) {
	b.t.Helper()
	var png []byte
	b.run(chromedp.FullScreenshot(&png, 100))
	require.NoError(b.t, os.MkdirAll(screenshotDir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644))
	var overflow bool
	b.eval(`document.documentElement.scrollWidth > window.innerWidth + 1`, &overflow)
	assert.False(b.t, overflow, "%s: the page scrolls sideways", name)
	var shift float64
	b.eval(`(() => { const o = new PerformanceObserver(() => {}); o.observe({type: "layout-shift", buffered: true});
		const s = o.takeRecords().reduce((a, e) => a + (e.hadRecentInput ? 0 : e.value), 0); o.disconnect(); return s; })()`, &shift)
	assert.Less(b.t, shift, 0.01, "%s: cumulative layout shift", name)
	var unlabelled []string
	b.eval(`[...document.querySelectorAll("input:not([type=hidden]), textarea, select")].filter(e => e.labels.length === 0).map(e => e.name)`, &unlabelled)
	assert.Empty(b.t, unlabelled, "%s: controls without a label", name)
	var unnamed int
	b.eval(`document.querySelectorAll("svg.chart:not([aria-labelledby])").length`, &unnamed)
	assert.Zero(b.t, unnamed, "%s: charts without an accessible name", name)
}

// signIn signs in through the form.
func (b *browser) signIn(token string) {
	b.t.Helper()
	b.open("/console/sign-in")
	b.run(chromedp.SetValue("#token", token, chromedp.ByID), chromedp.Submit("#token", chromedp.ByID),
		chromedp.WaitVisible("nav", chromedp.ByQuery))
}

func (b *browser) signOut() {
	b.t.Helper()
	b.run(chromedp.Click(`form.who button`, chromedp.ByQuery), chromedp.WaitVisible("#token", chromedp.ByID))
}

// apiGet reads the query API as tok.
func apiGet(t *testing.T, s *server, tok, path string, out any) {
	t.Helper()
	r := s.do(t, http.MethodGet, s.query+path, tok, "", nil)
	require.Equal(t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
	require.NoError(t, json.Unmarshal(r.body, out))
}

// TestConsoleInBrowser walks the console as a billing clerk, an auditor and an operator.
func TestConsoleInBrowser(t *testing.T) {
	url := pgtest.SchemaURL(t)
	s := startServerOn(t, url, "--process-managers=false")
	root, _ := newRoot()
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"demo", "seed", "--database-url", url, "--customers", "24", "--months", "6", "--seed", "5", "--log-level", "warn"})
	require.NoError(t, root.ExecuteContext(t.Context()))
	demo := s.mint(t, "demo")
	var head struct {
		Items []struct {
			CustomerID string `json:"customer_id"`
			Name       string `json:"name"`
		} `json:"items"`
	}
	require.Eventually(t, func() bool {
		r := s.do(t, http.MethodGet, s.query+"/v1/customers?limit=100", demo, "", nil)
		return r.status == http.StatusOK && json.Unmarshal(r.body, &head) == nil && len(head.Items) == 24
	}, time.Minute, 50*time.Millisecond, "the read models catch up with the seed")
	// Wait for the balances too: the statement must be complete before it is compared.
	var seedHead struct {
		Position uint64 `json:"position"`
	}
	_ = seedHead

	b := newBrowser(t, s)
	b.signIn(demo)
	b.shot("01-customers")

	t.Run("search a demo customer and its statement equals the API's", func(t *testing.T) {
		name := head.Items[3].Name
		b.run(chromedp.SetValue("#q", strings.Fields(name)[0], chromedp.ByID), chromedp.Submit("#q", chromedp.ByID),
			chromedp.WaitVisible("table", chromedp.ByQuery))
		b.shot("02-search")
		b.run(chromedp.Click(fmt.Sprintf(`a[href="/console/customers/%s"]`, head.Items[3].CustomerID), chromedp.ByQuery),
			chromedp.WaitVisible("#statement", chromedp.ByID))
		var cells []string
		b.eval(`[...document.querySelectorAll("#statement td.bal")].map(td => td.textContent.replaceAll(",", "").replace("−", "-"))`, &cells)
		var stmt struct {
			Items []struct {
				BalanceAfter struct{ Amount string } `json:"balance_after"`
			} `json:"items"`
		}
		apiGet(t, s, demo, "/v1/customers/"+head.Items[3].CustomerID+"/statement?limit=500", &stmt)
		want := make([]string, len(stmt.Items))
		for i, l := range stmt.Items {
			want[i] = l.BalanceAfter.Amount
		}
		require.NotEmpty(t, want)
		assert.Equal(t, want, cells, "the statement's running balance, line by line")
		var bal struct {
			Balances []struct {
				Balance struct{ Amount, Currency string }
			} `json:"balances"`
		}
		apiGet(t, s, demo, "/v1/customers/"+head.Items[3].CustomerID+"/balance", &bal)
		require.Len(t, bal.Balances, 1)
		got := strings.NewReplacer(",", "", "−", "-").Replace(b.text(`[data-testid="balance"]`))
		assert.Equal(t, bal.Balances[0].Balance.Amount+" "+bal.Balances[0].Balance.Currency, got)
		var charts int
		b.eval(`document.querySelectorAll("svg.chart[role=img] title").length`, &charts)
		assert.Positive(t, charts, "the balance chart, with its accessible title")
		b.shot("03-customer")
	})

	t.Run("an invoice's history and its state as of an event", func(t *testing.T) {
		b.run(chromedp.Click(`#statement a[href^="/console/invoices/"]`, chromedp.ByQuery), chromedp.WaitVisible("#history", chromedp.ByID))
		b.shot("04-invoice")
		var n int
		b.eval(`document.querySelectorAll("#history tbody tr").length`, &n)
		require.GreaterOrEqual(t, n, 2, "created and issued at least")
		b.run(chromedp.Click(`//table[@id="history"]//tr[td[2][starts-with(normalize-space(.), "InvoiceIssued")]]//a`, chromedp.BySearch),
			chromedp.WaitVisible("#asof-state", chromedp.ByID))
		assert.Contains(t, b.text("#asofst-h"), "InvoiceIssued")
		var at, invoice string
		b.eval(`new URLSearchParams(location.search).get("at")`, &at)
		b.eval(`location.pathname.split("/").pop()`, &invoice)
		var asOf struct {
			Balance  string `json:"balance"`
			Currency string `json:"currency"`
			Invoices []struct {
				InvoiceID string `json:"invoice_id"`
				Status    string `json:"status"`
			} `json:"invoices"`
		}
		apiGet(t, s, demo, "/v1/audit/customers/"+head.Items[3].CustomerID+"/as-of?position="+at, &asOf)
		status := ""
		for _, i := range asOf.Invoices {
			if i.InvoiceID == invoice {
				status = i.Status
			}
		}
		require.NotEmpty(t, status, "the invoice exists as of its issue")
		assert.Contains(t, []string{"issued", "partially_paid", "paid"}, status, "issued, credit applied or not")
		assert.True(t, strings.HasPrefix(b.text(`[data-testid="at-status"]`), status), "the state the auditors' as-of answers")
		assert.Equal(t, asOf.Balance+" "+asOf.Currency, strings.NewReplacer(",", "", "−", "-").Replace(b.text(`[data-testid="at-balance"]`)))
		assert.NotEmpty(t, b.text(`[data-testid="at-balance"]`))
		b.shot("05-invoice-as-of")
		b.run(chromedp.Navigate(b.s.query + "/console/customers/" + head.Items[3].CustomerID))
		b.run(chromedp.WaitVisible("#statement", chromedp.ByID), chromedp.Click(`#statement a[href^="/console/payments/"]`, chromedp.ByQuery),
			chromedp.WaitVisible("#history", chromedp.ByID))
		b.shot("06-payment")
	})

	t.Run("each chart", func(t *testing.T) {
		for _, c := range []struct{ name, path, table string }{
			{"07-aging", "/console/reports/aging", "#aging-totals"},
			{"08-mrr", "/console/reports/mrr?from=2025-01&to=2025-06", "#mrr-table"},
			{"09-trial-balance", "/console/ledger/trial-balance", "#tb"},
		} {
			b.open(c.path)
			b.run(chromedp.WaitVisible(c.table, chromedp.ByQuery))
			b.shot(c.name)
		}
		var svgs int
		b.open("/console/reports/mrr?from=2025-01&to=2025-06")
		b.eval(`document.querySelectorAll("svg.chart").length`, &svgs)
		assert.Equal(t, 4, svgs, "MRR, movements, ARPU and by plan")
		b.open("/console/ledger/trial-balance")
		b.run(chromedp.Click(`#tb a[href^="/console/ledger/accounts/1100"]`, chromedp.ByQuery), chromedp.WaitVisible("#lines", chromedp.ByID))
		b.shot("10-account")
	})

	t.Run("keyboard: the first tab stop skips to the content", func(t *testing.T) {
		b.open("/console/customers")
		b.run(chromedp.KeyEvent(kb.Tab))
		var cls string
		b.eval(`document.activeElement.className`, &cls)
		assert.Equal(t, "skip", cls)
	})

	t.Run("a phone's width", func(t *testing.T) {
		b.run(chromedp.EmulateViewport(390, 844))
		b.open("/console/customers/" + head.Items[3].CustomerID)
		b.shot("11-customer-390")
		b.open("/console/reports/mrr?from=2025-01&to=2025-06")
		b.shot("12-mrr-390")
		b.run(chromedp.EmulateViewport(1280, 900))
	})

	t.Run("another tenant's customer is not found", func(t *testing.T) {
		b.signOut()
		b.signIn(s.mint(t, "globex"))
		b.open("/console/customers/" + head.Items[3].CustomerID)
		assert.Equal(t, "Not found", b.text("h1"))
		b.open("/console/ops")
		assert.Equal(t, "Operators only", b.text("h1"))
		b.shot("13-tenant-on-ops")
	})

	t.Run("an operator rebuilds a projection and sees it reach 100 %", func(t *testing.T) {
		b.signOut()
		op, err := s.key.Mint(auth.Principal{Subject: "browser-operator", Operator: true, Permissions: []string{auth.All}}, time.Now(), time.Hour)
		require.NoError(t, err)
		b.signIn(op)
		b.run(chromedp.WaitVisible("#projections", chromedp.ByID))
		b.shot("14-ops")
		b.open("/console/customers")
		assert.Equal(t, "Tenants only", b.text("h1"))
		b.open("/console/ops/projections/invoices")
		b.run(chromedp.Click(`form[action$="/rebuild"] button`, chromedp.ByQuery), chromedp.WaitVisible("#progress", chromedp.ByID))
		b.run(chromedp.Poll(`document.getElementById("progress").value === 100`, nil, chromedp.WithPollingInterval(100*time.Millisecond),
			chromedp.WithPollingTimeout(45*time.Second)))
		assert.Contains(t, b.text("#progress-text"), "100 %")
		b.shot("15-rebuild-done")
		b.open("/console/ops/verify?run=1")
		b.run(chromedp.WaitVisible("#report", chromedp.ByID))
		assert.Contains(t, b.text("#report .big"), "Verified")
		b.shot("16-verify")
	})
}
