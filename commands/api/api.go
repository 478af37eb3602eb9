// Package api is the command REST API: resource-shaped POST endpoints over commands.Handlers,
// with bearer-token authentication and one permission per endpoint, Idempotency-Key on every
// request, If-Match for optimistic concurrency, problem+json errors mapped in one table
// (errors.go), and the OpenAPI 3.1 document at /openapi.json.
//
// Every endpoint runs the same steps (serve.go): authenticate and authorize, require the
// Idempotency-Key, read the body (size-limited, JSON only) and validate every field, claim the
// key (a retry gets the first response, a reused key 422, a running one 409), run the command,
// store and write the response: 201 or 200 with the id, the stream version (ETag) and the
// global position of the last appended event (body "position", header X-Ledger-Position).
package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// Defaults of Config.
const (
	// DefaultCommandTimeout bounds one command; keep it below the idempotency lease.
	DefaultCommandTimeout = 60 * time.Second
	// MaxIdempotencyKeyBytes bounds the Idempotency-Key header.
	MaxIdempotencyKeyBytes = 255
	// DefaultBillingWait is how long POST /v1/billing-runs waits for the run to finish before
	// answering 202 with its progress (the run goes on in the background).
	DefaultBillingWait = 10 * time.Second
)

// Config wires the API.
type Config struct {
	Handlers *commands.Handlers
	Keys     commands.IdempotencyKeys
	Auth     *auth.Key
	// CommandTimeout bounds one command (default DefaultCommandTimeout). A command runs to its
	// end even if the client goes away, so that a retry finds its answer.
	CommandTimeout time.Duration
	// BodyLimit bounds request bodies (default httpx.DefaultBodyLimit).
	BodyLimit int64
	// Background is the context billing runs continue under after their request has been
	// answered (default context.Background()); end it on shutdown to stop them (a stopped run
	// stays open and is continued by the next POST or the billing process manager).
	Background context.Context
	// BillingWait is how long POST /v1/billing-runs waits for the run before answering 202
	// (default DefaultBillingWait; at most three quarters of CommandTimeout).
	BillingWait time.Duration
	// Providers are the payment-provider accounts POST /v1/providers/{provider}/callbacks
	// verifies callbacks with (nil: none; every callback answers unknown account).
	Providers *providers.Registry
	// Registerer receives the API's own metrics (nil: none), such as
	// dotmac_payment_callbacks_total.
	Registerer prometheus.Registerer
}

// API serves the command endpoints.
type API struct {
	cfg       Config
	callbacks *prometheus.CounterVec
	// completions are the answers being stored under their keys after they went out
	// (complete); WaitCompletions waits for them at shutdown.
	completions sync.WaitGroup
	storing     atomic.Int64
}

// New returns the API over cfg.
func New(cfg Config) (*API, error) {
	if cfg.Handlers == nil || cfg.Keys == nil || cfg.Auth == nil {
		return nil, errors.New("api: Config needs Handlers, Keys and Auth")
	}
	if cfg.CommandTimeout <= 0 {
		cfg.CommandTimeout = DefaultCommandTimeout
	}
	if cfg.BodyLimit <= 0 {
		cfg.BodyLimit = httpx.DefaultBodyLimit
	}
	if cfg.Background == nil {
		cfg.Background = context.Background()
	}
	if cfg.BillingWait <= 0 {
		cfg.BillingWait = DefaultBillingWait
	}
	// The wait ends before the command's timeout, so that the 202 is answered within it.
	cfg.BillingWait = min(cfg.BillingWait, cfg.CommandTimeout*3/4)
	a := &API{cfg: cfg, callbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dotmac_payment_callbacks_total",
		Help: "Payment-provider callbacks, by provider and outcome (recorded, duplicate, unallocated, ignored, or why one was refused)."},
		[]string{"provider", "outcome"})}
	if cfg.Registerer != nil {
		if err := cfg.Registerer.Register(a.callbacks); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	return a, nil
}

// Mount adds every endpoint and GET /openapi.json (no authentication) to r.
func (a *API) Mount(r *mux.Router) {
	r.Handle("/openapi.json", openAPI).Methods(http.MethodGet, http.MethodHead)
	for _, rt := range routes() {
		httpx.Path(r, rt.path).Handler(a.cfg.Auth.Authenticate(auth.Require(rt.permission, a.endpoint(rt)))).Methods(rt.method)
	}
	r.Handle(CallbackPath, http.HandlerFunc(a.callback)).Methods(http.MethodPost)
	r.Handle(billingRunPath, a.cfg.Auth.Authenticate(auth.Require(auth.BillingRunsWrite, http.HandlerFunc(a.getBillingRun)))).Methods(http.MethodGet)
}

// Route describes one endpoint, for documentation and tests. IfMatch reports whether it
// honours If-Match (it acts on an existing stream).
type Route struct {
	Method, Path, Permission, Operation string
	IfMatch                             bool
}

// Routes lists the endpoints Mount serves (besides /openapi.json).
func Routes() []Route {
	var out []Route
	for _, rt := range routes() {
		out = append(out, Route{Method: rt.method, Path: rt.path, Permission: rt.permission, Operation: rt.op, IfMatch: rt.ifMatch})
	}
	return out
}

// route is one endpoint: prepare validates a request into the command to run.
type route struct {
	op         string
	method     string
	path       string
	permission string
	// ifMatch: the endpoint acts on an existing stream and honours If-Match.
	ifMatch bool
	// aliases map the domain's field names to this endpoint's JSON fields (see fieldName).
	aliases map[string]string
	prepare func(req *request) (command, error)
	// storeAnswer: the answer holds more than its command's events tell (a billing run's
	// skipped customers and their reasons), so with the key recorded with the events it is
	// stored with the key too, for a retry to replay it instead of rebuilding it.
	storeAnswer bool
}

// routes is the routing table.
func routes() []route {
	var all []route
	for _, group := range [][]route{customerRoutes(), planRoutes(), serviceRoutes(), invoiceRoutes(), paymentRoutes(), receiptRoutes(), billingRunRoutes()} {
		all = append(all, group...)
	}
	return all
}
