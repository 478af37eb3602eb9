// Package console is DotMac Ledger's web console for billing staff, auditors, analysts and
// operators: server-rendered pages (html/template, assets embedded, no CDN, a few lines of
// plain JavaScript) served by the query role under /console.
//
// The console holds no query of its own. Every figure it shows comes from an in-process call
// of the query API (readapi and the auditors' /v1/audit routes) or of the projection admin API,
// made with the signed-in user's own bearer token: a page shows exactly what the API answers
// that token, tenant scoping and permissions included (another tenant's id is a 404, a tenant
// token on an operator page a 403).
package console

import (
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/internal/auth"
)

// Prefix is where the console is mounted.
const Prefix = "/console"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// VerifyFunc runs the feed-wide audit verification an operator asks for (every tenant, the
// hash chains, the positions and the ledger): audit.Auditor.Verify.
type VerifyFunc func(r *http.Request, opts audit.VerifyOptions) (*audit.Report, error)

// Config wires a console.
type Config struct {
	// Key verifies the bearer tokens users sign in with (required).
	Key *auth.Key
	// Query is the query API (readapi and /v1/audit routes), called in process (required).
	Query http.Handler
	// Admin is the projection admin API (/v1/projections...), called in process for the
	// operator pages (required).
	Admin http.Handler
	// Verify runs an operator's feed-wide verification (required).
	Verify VerifyFunc
	// Secure marks the session cookie Secure (production: served over HTTPS).
	Secure bool
	// Now is the clock (default time.Now), read for "today" in date pickers.
	Now func() time.Time
}

// Console serves the pages.
type Console struct {
	cfg   Config
	pages map[string]*template.Template
}

// New parses the templates and returns the console, or an error naming a missing dependency.
func New(cfg Config) (*Console, error) {
	switch {
	case cfg.Key == nil:
		return nil, errors.New("console: Config.Key is required")
	case cfg.Query == nil:
		return nil, errors.New("console: Config.Query is required")
	case cfg.Admin == nil:
		return nil, errors.New("console: Config.Admin is required")
	case cfg.Verify == nil:
		return nil, errors.New("console: Config.Verify is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	return &Console{cfg: cfg, pages: pages}, nil
}

// Mount adds the console's routes under Prefix to r.
func (c *Console) Mount(r *mux.Router) {
	static, _ := fs.Sub(staticFS, "static")
	s := r.PathPrefix(Prefix).Subrouter()
	s.PathPrefix("/static/").Handler(http.StripPrefix(Prefix+"/static/", cacheStatic(http.FileServerFS(static)))).Methods(http.MethodGet, http.MethodHead)
	s.Handle("/sign-in", c.plain(c.signInForm)).Methods(http.MethodGet)
	s.Handle("/sign-in", c.plain(c.signIn)).Methods(http.MethodPost)
	s.Handle("/sign-out", c.plain(c.signOut)).Methods(http.MethodPost)
	s.Handle("", c.session(c.home)).Methods(http.MethodGet)
	s.Handle("/", c.session(c.home)).Methods(http.MethodGet)
	c.mountTenantPages(s)
	c.mountOperatorPages(s)
	s.NotFoundHandler = c.session(func(w http.ResponseWriter, r *http.Request, v *view) {
		c.fail(w, r, v, errNotFound)
	})
}

// home sends a tenant to the customers and an operator to the projections.
func (c *Console) home(w http.ResponseWriter, r *http.Request, v *view) {
	if v.Operator {
		http.Redirect(w, r, Prefix+"/ops", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, Prefix+"/customers", http.StatusSeeOther)
}

func (c *Console) mountTenantPages(s *mux.Router) {
	t := func(path string, h pageFunc) { s.Handle(path, c.session(c.tenantOnly(h))).Methods(http.MethodGet) }
	t("/customers", c.customers)
	t("/customers/{customer_id}", c.customer)
	t("/invoices/{invoice_id}", c.invoice)
	t("/payments/{payment_id}", c.payment)
	t("/reports/aging", c.aging)
	t("/reports/mrr", c.mrr)
	t("/ledger/trial-balance", c.trialBalance)
	t("/ledger/accounts/{account}", c.account)
	t("/audit", c.auditPage)
	t("/audit/export.zip", c.exportZip)
}

func (c *Console) mountOperatorPages(s *mux.Router) {
	o := func(method, path string, h pageFunc) { s.Handle(path, c.session(c.operatorOnly(h))).Methods(method) }
	o(http.MethodGet, "/ops", c.ops)
	o(http.MethodGet, "/ops/projections/{name}", c.projection)
	o(http.MethodGet, "/ops/projections/{name}/progress", c.progress)
	o(http.MethodPost, "/ops/projections/{name}/rebuild", c.rebuild)
	o(http.MethodGet, "/ops/verify", c.verifyAll)
}

// cacheStatic lets browsers keep the embedded assets for an hour.
func cacheStatic(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		h.ServeHTTP(w, r)
	})
}
