package api_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/httpx"
)

// gatedStore holds the appends to customer accounts (the run's invoices) once armed: the
// first pass appends go through, the others wait until release is closed or their context ends.
type gatedStore struct {
	eventstore.Store
	armed   atomic.Bool
	pass    atomic.Int64
	release chan struct{}
	waiting chan struct{} // one send per append held
	appends atomic.Int64  // appends to customer streams while armed (held ones included)
}

func newGatedStore(s eventstore.Store, pass int64) *gatedStore {
	g := &gatedStore{Store: s, release: make(chan struct{}), waiting: make(chan struct{}, 1000)}
	g.pass.Store(pass)
	return g
}

func (g *gatedStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	_, kind, _, err := domain.ParseStream(stream)
	if err == nil && kind == domain.StreamCustomer && g.armed.Load() {
		g.appends.Add(1)
	}
	if err == nil && kind == domain.StreamCustomer && g.armed.Load() && g.pass.Add(-1) < 0 {
		g.waiting <- struct{}{}
		select {
		case <-g.release:
		case <-ctx.Done():
			return eventstore.AppendResult{}, ctx.Err()
		}
	}
	return g.Store.Append(ctx, stream, expected, events...)
}

// jobProcess is a command API over store whose billing runs continue under bg and answer 202
// at once when not finished (the store's gate, not a timer, decides that they are not).
func jobProcess(bg context.Context, t *testing.T, e *env, store eventstore.Store, tune ...func(*api.Config)) (*commands.Handlers, *env) {
	t.Helper()
	opts := pgstore.Options{AsyncCommit: true}
	h, err := commands.New(commands.Config{Store: store, Numbers: pgstore.NewNumbers(e.pool, opts),
		Index: pgstore.NewIndex(e.pool, store), Now: e.clock.Now, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	cfg := api.Config{Handlers: h, Keys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{Options: opts}), Auth: e.key,
		Background: bg, BillingWait: time.Millisecond}
	for _, f := range tune {
		f(&cfg)
	}
	a, err := api.New(cfg)
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	p := *e
	p.handlers, p.handler = h, httpx.Observe(zerolog.Nop(), nil, r)
	return h, &p
}

// billedTenant is acme with n customers of one active service each.
func billedTenant(e *env, tok string, n int) []string {
	e.definePlan(tok, "fiber_100", "79.99")
	out := make([]string, n)
	for i := range out {
		out[i] = e.registerCustomer(tok)
		e.activeService(tok, out[i], "fiber_100")
	}
	return out
}

func (e *env) get(tok, path string) resp {
	e.t.Helper()
	return e.do(call{method: http.MethodGet, path: path, token: tok})
}

// awaitRun polls the run's progress until it is no longer running, and returns it.
func (e *env) awaitRun(tok, period string) map[string]any {
	e.t.Helper()
	var body map[string]any
	require.Eventually(e.t, func() bool {
		r := e.get(tok, "/v1/billing-runs/"+period)
		require.Equal(e.t, http.StatusOK, r.Status, string(r.Body))
		body = r.JSON(e.t)
		return body["status"] != "running"
	}, time.Minute, 5*time.Millisecond, "the run still runs")
	return body
}

// requireOneInvoiceEach fails unless every customer has exactly one invoice.
func requireOneInvoiceEach(t *testing.T, e *env, customers []string) {
	t.Helper()
	for _, c := range customers {
		account, _ := foldAccount(t, e, c)
		assert.Len(t, account.Invoices, 1, "customer %s", c)
	}
}

// TestBillingRunAnswers202AndRunsInTheBackground: a run that does not finish within the wait
// answers 202 with its progress and Location; GET follows it to completion; every customer
// gets one invoice. A second POST meanwhile joins the same run (no second worker).
func TestBillingRunAnswers202AndRunsInTheBackground(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customers := billedTenant(e, tok, 3)
	gate := newGatedStore(e.store, 1)
	h, p := jobProcess(context.Background(), t, e, gate)
	gate.armed.Store(true)

	r := p.must(http.StatusAccepted, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	assert.Equal(t, "/v1/billing-runs/2026-01", r.Header.Get("Location"))
	body := r.JSON(t)
	assert.Equal(t, "running", body["status"])
	runID := body["run_id"]
	require.NotEmpty(t, runID)

	<-gate.waiting // two customers are held; the third is invoiced
	<-gate.waiting
	var pb map[string]any
	require.Eventually(t, func() bool { // until the worker has counted the third customer (its append went through)
		prog := p.get(tok, "/v1/billing-runs/2026-01")
		require.Equal(t, http.StatusOK, prog.Status, string(prog.Body))
		pb = prog.JSON(t)
		return pb["customers_invoiced"] != float64(0)
	}, time.Minute, time.Millisecond, "the third customer is never counted")
	assert.Equal(t, "running", pb["status"])
	assert.Equal(t, runID, pb["run_id"])
	assert.InDelta(t, 3, pb["customers_billable"], 0)
	assert.InDelta(t, 1, pb["customers_invoiced"], 0)
	assert.InDelta(t, 33, pb["percent"], 0)
	assert.Contains(t, pb, "started_at")

	again := p.must(http.StatusAccepted, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	assert.Equal(t, runID, again.JSON(t)["run_id"], "a second POST joins the same run")
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	period, err := domain.ParsePeriod("2026-01")
	require.NoError(t, err)
	j1, _, err := h.StartBillingJob(context.Background(), context.Background(), commands.Meta{Tenant: tenant}, commands.RunBilling{Period: period})
	require.NoError(t, err)
	j2, _, err := h.StartBillingJob(context.Background(), context.Background(), commands.Meta{Tenant: tenant}, commands.RunBilling{Period: period})
	require.NoError(t, err)
	assert.Same(t, j1, j2, "one worker per run in a process")

	close(gate.release)
	<-j1.Done()
	_, err = j1.Result()
	require.NoError(t, err)
	done := p.awaitRun(tok, "2026-01")
	assert.Equal(t, "completed", done["status"])
	assert.InDelta(t, 3, done["customers_invoiced"], 0)
	assert.InDelta(t, 100, done["percent"], 0)
	assert.Contains(t, done, "completed_at")
	requireOneInvoiceEach(t, e, customers)

	final := p.must(http.StatusOK, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	assert.Equal(t, "completed", final.JSON(t)["status"])
	assert.Len(t, runInvoices(t, final), 3)
}

// TestBillingRunWaitLongerThanCommandTimeoutAnswers202: a BillingWait at or above the
// command timeout still answers 202 with the run's progress while the held job runs on
// (not a 5xx from reading the run under the ended command context).
func TestBillingRunWaitLongerThanCommandTimeoutAnswers202(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	billedTenant(e, tok, 1)
	gate := newGatedStore(e.store, 0)
	_, p := jobProcess(context.Background(), t, e, gate, func(c *api.Config) {
		c.CommandTimeout, c.BillingWait = 500*time.Millisecond, time.Hour
	})
	gate.armed.Store(true)
	r := p.must(http.StatusAccepted, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	body := r.JSON(t)
	assert.Equal(t, "running", body["status"])
	assert.NotEmpty(t, body["run_id"])
	<-gate.waiting
	close(gate.release)
	assert.Equal(t, "completed", p.awaitRun(tok, "2026-01")["status"])
}

// TestRunBillingAndPostShareOneWorker: a POST while a plain RunBilling (the process
// manager's path) bills the period joins its job: the held customer is appended to once.
func TestRunBillingAndPostShareOneWorker(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customers := billedTenant(e, tok, 1)
	gate := newGatedStore(e.store, 0)
	h, p := jobProcess(context.Background(), t, e, gate)
	gate.armed.Store(true)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	period, err := domain.ParsePeriod("2026-01")
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() {
		_, err := h.RunBilling(context.Background(), commands.Meta{Tenant: tenant}, commands.RunBilling{Period: period})
		errc <- err
	}()
	<-gate.waiting // RunBilling's worker holds the customer's invoice
	p.must(http.StatusAccepted, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	close(gate.release)
	require.NoError(t, <-errc)
	assert.Equal(t, "completed", p.awaitRun(tok, "2026-01")["status"])
	assert.Equal(t, int64(1), gate.appends.Load(), "one worker appended the customer's invoice")
	requireOneInvoiceEach(t, e, customers)
}

// TestBillingRunResumesAfterItsWorkerStops: the background worker stops (shutdown) after
// invoicing one customer, with three held; the run stays open, and a POST (here on
// another process) finishes it with one invoice per customer.
func TestBillingRunResumesAfterItsWorkerStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customers := billedTenant(e, tok, 4)
	gate := newGatedStore(e.store, 1)
	bg, stop := context.WithCancel(context.Background())
	_, p := jobProcess(bg, t, e, gate)
	gate.armed.Store(true)

	p.must(http.StatusAccepted, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	for range 3 {
		<-gate.waiting
	}
	stop() // the server shuts down mid-run
	stopped := p.awaitRun(tok, "2026-01")
	assert.Equal(t, "open", stopped["status"])
	// Each group is recorded once billed: with four customers among four workers the
	// invoiced one is its own group, recorded or not yet when the worker stops.
	assert.LessOrEqual(t, stopped["customers_invoiced"], float64(1), "the held customers were not recorded")

	_, other := jobProcess(context.Background(), t, e, e.store)
	resumed := other.post(tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})
	assert.Contains(t, []int{http.StatusCreated, http.StatusAccepted}, resumed.Status, string(resumed.Body))
	done := other.awaitRun(tok, "2026-01")
	assert.Equal(t, "completed", done["status"])
	assert.InDelta(t, 4, done["customers_invoiced"], 0)
	requireOneInvoiceEach(t, e, customers)
}

// TestGetBillingRunNotFound: a run never started, or another tenant's, is 404 problem+json.
func TestGetBillingRunNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	billedTenant(e, tok, 1)
	e.must(http.StatusCreated, tok, "/v1/billing-runs", map[string]any{"period": "2026-01"})

	for _, tc := range []struct{ name, tok, path string }{
		{"never started", tok, "/v1/billing-runs/2025-12"},
		{"another tenant's", e.token("globex"), "/v1/billing-runs/2026-01"},
	} {
		r := e.get(tc.tok, tc.path)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s: %s", tc.name, r.Body)
		assert.Equal(t, "application/problem+json", r.Header.Get("Content-Type"), tc.name)
	}
	bad := e.get(tok, "/v1/billing-runs/2026-13")
	assert.Equal(t, http.StatusBadRequest, bad.Status, string(bad.Body))
	ok := e.get(tok, "/v1/billing-runs/2026-01")
	require.Equal(t, http.StatusOK, ok.Status, string(ok.Body))
	assert.Equal(t, "completed", ok.JSON(t)["status"])
	assert.Equal(t, http.StatusUnauthorized, e.get("", "/v1/billing-runs/2026-01").Status)
}
