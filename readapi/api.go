// Package readapi is DotMac Ledger's query API: GET endpoints over the read models (the views
// the projection runtime keeps in the application schema), never the event store or the
// write side. Every endpoint is scoped to the tenant of the caller's token and needs one read
// permission; lists page with opaque keyset cursors; every answer carries a strong ETag (a
// hash of its body) and X-Ledger-Position, the checkpoint of the projection it read; a
// request may ask to see at least a position (min_position or X-Min-Position) and waits,
// bounded, for the projection to get there (read-your-writes). The OpenAPI 3.1 document is
// served at /openapi.json.
package readapi

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/projections/readmodel"
)

// Positions is how the API learns how far a projection has got for a tenant: the projection
// runtime (*projections.Runtime) implements it.
type Positions interface {
	// WaitForTenant blocks until the projection's live build has applied every event up to
	// pos (at once for pos 0) and returns the checkpoint reached. When ctx ends first it
	// returns the checkpoint reached so far with an error that matches ctx's error
	// (errors.Is(err, context.DeadlineExceeded)). While the build has stopped applying the
	// tenant's events it answers at once with a *projections.TenantStalledError.
	WaitForTenant(ctx context.Context, projection, tenant string, pos eventstore.Position) (eventstore.Position, error)
}

// Querier runs the read-model queries: a *pgxpool.Pool whose search_path starts with the
// application schema (where the runtime keeps one view per read-model table).
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

var _ Querier = (*pgxpool.Pool)(nil)

// Defaults and limits.
const (
	// DefaultWait bounds how long a request waits for min_position.
	DefaultWait = 5 * time.Second
	// DefaultMaxWait caps the wait a request may ask for with ?wait=.
	DefaultMaxWait = 30 * time.Second
	// DefaultLimit is a page's size when the request names none; MaxLimit the largest.
	DefaultLimit = 50
	MaxLimit     = 500
	// maxMRRMonths bounds the months one MRR report covers.
	maxMRRMonths = 60
)

// Config wires an API.
type Config struct {
	// DB runs the queries (required).
	DB Querier
	// Auth verifies bearer tokens (required).
	Auth *auth.Key
	// Positions reports and waits for projection checkpoints (required).
	Positions Positions
	// Wait bounds a min_position wait (default DefaultWait); MaxWait caps ?wait= (default
	// DefaultMaxWait, never below Wait).
	Wait, MaxWait time.Duration
	// PositionCache is how long a checkpoint read from Positions answers later requests it
	// covers (default DefaultPositionCache; negative: ask Positions on every request).
	PositionCache time.Duration
	// Now is the clock, read for "today" in reports (default time.Now).
	Now func() time.Time
}

// API serves the query endpoints.
type API struct {
	cfg Config
}

// New returns the API, or an error naming a missing dependency.
func New(cfg Config) (*API, error) {
	switch {
	case cfg.DB == nil:
		return nil, errors.New("readapi: Config.DB is required")
	case cfg.Auth == nil:
		return nil, errors.New("readapi: Config.Auth is required")
	case cfg.Positions == nil:
		return nil, errors.New("readapi: Config.Positions is required")
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = DefaultMaxWait
	}
	cfg.MaxWait = max(cfg.MaxWait, cfg.Wait)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PositionCache == 0 {
		cfg.PositionCache = DefaultPositionCache
	}
	cfg.Positions = newPositionCache(cfg.Positions, cfg.PositionCache)
	return &API{cfg: cfg}, nil
}

// Mount adds every endpoint and GET /openapi.json (no authentication) to r.
func (a *API) Mount(r *mux.Router) {
	r.Handle("/openapi.json", openAPI).Methods(http.MethodGet, http.MethodHead)
	for _, rt := range routes() {
		httpx.Path(r, rt.path).Handler(a.cfg.Auth.Authenticate(auth.Require(rt.permission, a.endpoint(rt)))).Methods(http.MethodGet)
	}
}

// Route describes one endpoint, for documentation and tests.
type Route struct {
	Path, Permission, Operation, Projection string
}

// Routes lists the endpoints Mount serves (all GET; besides /openapi.json).
func Routes() []Route {
	var out []Route
	for _, rt := range routes() {
		out = append(out, Route{Path: rt.path, Permission: rt.permission, Operation: rt.op, Projection: rt.projection})
	}
	return out
}

// route is one endpoint: serve answers a validated request with the value to send as JSON.
type route struct {
	op         string
	path       string
	permission string
	// projection is the read model the endpoint reads: min_position waits for it and
	// X-Ledger-Position reports its checkpoint.
	projection string
	// params are the query parameters the endpoint accepts besides the common ones (limit,
	// cursor, min_position, wait); any other is a 400.
	params []string
	// list: the endpoint pages (limit and cursor apply).
	list  bool
	serve func(ctx context.Context, r *request) (any, error)
}

// routes is the routing table.
func routes() []route {
	return []route{
		{op: "listCustomers", path: "/v1/customers", permission: auth.CustomersRead, projection: readmodel.NameCustomers,
			params: []string{"status", "q"}, list: true, serve: listCustomers},
		{op: "getCustomer", path: "/v1/customers/{customer_id}", permission: auth.CustomersRead, projection: readmodel.NameCustomers,
			serve: getCustomer},
		{op: "getCustomerBalance", path: "/v1/customers/{customer_id}/balance", permission: auth.LedgerRead,
			projection: readmodel.NameBalances, serve: getBalance},
		{op: "getCustomerStatement", path: "/v1/customers/{customer_id}/statement", permission: auth.LedgerRead,
			projection: readmodel.NameBalances, params: []string{"from", "to"}, list: true, serve: getStatement},
		{op: "listCustomerInvoices", path: "/v1/customers/{customer_id}/invoices", permission: auth.InvoicesRead,
			projection: readmodel.NameInvoices, params: invoiceFilters[1:], list: true, serve: listInvoices},
		{op: "listServices", path: "/v1/services", permission: auth.ServicesRead, projection: readmodel.NameCatalog,
			params: []string{"customer_id", "status", "plan"}, list: true, serve: listServices},
		{op: "getService", path: "/v1/services/{service_id}", permission: auth.ServicesRead, projection: readmodel.NameCatalog,
			serve: getService},
		{op: "listPlans", path: "/v1/plans", permission: auth.PlansRead, projection: readmodel.NameCatalog,
			params: []string{"status"}, list: true, serve: listPlans},
		{op: "getPlan", path: "/v1/plans/{plan_code}", permission: auth.PlansRead, projection: readmodel.NameCatalog, serve: getPlan},
		{op: "listInvoices", path: "/v1/invoices", permission: auth.InvoicesRead, projection: readmodel.NameInvoices,
			params: invoiceFilters, list: true, serve: listInvoices},
		{op: "getInvoice", path: "/v1/invoices/{invoice_id}", permission: auth.InvoicesRead, projection: readmodel.NameInvoices,
			serve: getInvoice},
		{op: "listPayments", path: "/v1/payments", permission: auth.PaymentsRead, projection: readmodel.NameInvoices,
			params: []string{"customer_id"}, list: true, serve: listPayments},
		{op: "getPayment", path: "/v1/payments/{payment_id}", permission: auth.PaymentsRead, projection: readmodel.NameInvoices,
			serve: getPayment},
		{op: "getCreditNote", path: "/v1/credit-notes/{credit_note_id}", permission: auth.PaymentsRead, projection: readmodel.NameInvoices,
			serve: getCreditNote},
		{op: "listReceipts", path: "/v1/receipts", permission: auth.PaymentsRead, projection: readmodel.NameReceipts,
			params: []string{"status"}, list: true, serve: listReceipts},
		{op: "getReceipt", path: "/v1/receipts/{receipt_id}", permission: auth.PaymentsRead, projection: readmodel.NameReceipts,
			serve: getReceipt},
		{op: "listJournal", path: "/v1/journal", permission: auth.LedgerRead, projection: readmodel.NameJournal,
			params: []string{"account", "customer_id", "from", "to"}, list: true, serve: listJournal},
		{op: "getTrialBalance", path: "/v1/trial-balance", permission: auth.LedgerRead, projection: readmodel.NameJournal,
			params: []string{"as_of_position", "as_of"}, serve: getTrialBalance},
		{op: "getARAging", path: "/v1/reports/ar-aging", permission: auth.ReportsRead, projection: readmodel.NameInvoices,
			params: []string{"as_of"}, list: true, serve: getAging},
		{op: "getMRR", path: "/v1/reports/mrr", permission: auth.ReportsRead, projection: readmodel.NameMRR,
			params: []string{"from", "to", "plan"}, serve: getMRR},
	}
}
