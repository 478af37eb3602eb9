package console

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/readapi"
)

// view is what every page renders: who is signed in, and the page's own data.
type view struct {
	c         *Console
	Principal auth.Principal
	Operator  bool
	token     string
	// CSRF goes into every form that POSTs.
	CSRF string
	// Path is the page's path, for the navigation's current item.
	Path  string
	Title string
	Data  any
}

// SignedIn reports whether the page has a user.
func (v *view) SignedIn() bool { return v.token != "" }

// Today is today's date, the default of date pickers.
func (v *view) Today() string { return v.c.cfg.Now().UTC().Format(time.DateOnly) }

// parsePages parses each page's template with the layout.
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(path.Base(n), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console: parse %s: %w", n, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// render writes page with data, buffered so a template error is a 500, never half a page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, v *view, status int, page string, data any) {
	t, ok := c.pages[page]
	if !ok {
		httpx.WriteError(w, r, fmt.Errorf("console: no page %q", page))
		return
	}
	v.Data = data
	if v.Title == "" {
		v.Title = titles[page]
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		httpx.WriteError(w, r, fmt.Errorf("console: render %s: %w", page, err))
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// titles are the pages' default titles.
var titles = map[string]string{
	"sign-in": "Sign in", "customers": "Customers", "customer": "Customer", "invoice": "Invoice", "payment": "Payment",
	"aging": "AR aging", "mrr": "MRR", "trial-balance": "Trial balance", "account": "Account", "audit": "Audit",
	"ops": "Projections", "projection": "Projection", "verify": "Verify", "error": "Error",
}

// errorData is the error page's.
type errorData struct {
	Status        int
	Title, Detail string
}

// fail renders err: an API's answer with its status, anything else as a 500 logged under an
// error id.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, v *view, err error) {
	if e, ok := asAPIError(err); ok {
		v.Title = e.Title
		c.render(w, r, v, e.Status, "error", errorData{Status: e.Status, Title: e.Title, Detail: e.Detail})
		return
	}
	if r.Context().Err() != nil {
		return
	}
	id := httpx.Opaque(r, "console page", err)
	v.Title = "Internal error"
	c.render(w, r, v, http.StatusInternalServerError, "error", errorData{Status: http.StatusInternalServerError,
		Title: "Internal error", Detail: "Something went wrong; operators find the cause in the log under error id " + id + "."})
}

var funcs = template.FuncMap{
	"money":    formatMoney,
	"amount":   formatAmount,
	"negative": func(m readapi.Money) bool { return dec(m.Amount).IsNegative() },
	"date":     shortDate,
	"time":     shortTime,
	"q":        url.QueryEscape,
	"p":        url.PathEscape,
	"deref":    func(s *string) string { return derefOr(s, "") },
	"json":     prettyJSON,
	"active": func(v *view, prefix string) bool {
		return strings.HasPrefix(v.Path, Prefix+prefix)
	},
	"short": func(id string) string {
		if len(id) > 8 {
			return id[:8]
		}
		return id
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.0f", f) },
}

func derefOr(s *string, or string) string {
	if s == nil {
		return or
	}
	return *s
}

// dec parses a decimal amount from the API (zero when empty).
func dec(s string) decimal.Decimal {
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Zero
	}
	return d
}

// formatMoney writes 1234.5 USD as "1,234.50 USD", keeping the API's digits.
func formatMoney(m readapi.Money) string {
	if m.Amount == "" {
		return "—"
	}
	return formatAmount(m.Amount) + " " + m.Currency
}

// formatAmount groups an amount's integer digits by thousands, keeping its decimals.
func formatAmount(a string) string {
	neg := strings.HasPrefix(a, "-")
	a = strings.TrimPrefix(a, "-")
	whole, frac, hasFrac := strings.Cut(a, ".")
	var b strings.Builder
	for i, ch := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(ch)
	}
	out := b.String()
	if hasFrac {
		out += "." + frac
	}
	if neg {
		out = "−" + out
	}
	return out
}

// shortDate keeps the date of an RFC 3339 instant.
func shortDate(s string) string {
	if len(s) >= 10 {
		return s[:10]
	}
	return s
}

// shortTime writes an instant as "2026-01-02 09:00:00Z".
func shortTime(t any) string {
	switch x := t.(type) {
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05Z")
	case string:
		if tt, err := time.Parse(time.RFC3339Nano, x); err == nil {
			return tt.UTC().Format("2006-01-02 15:04:05Z")
		}
		return x
	}
	return fmt.Sprint(t)
}

func prettyJSON(raw json.RawMessage) string {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return string(raw)
	}
	return b.String()
}
