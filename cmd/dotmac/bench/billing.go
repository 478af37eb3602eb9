package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/readapi/loadtest"
)

// Limits of the billing_run scenario.
const (
	// DefaultBillingQueryRate is the portal's read load during the run (Config.BillingQueryRate).
	DefaultBillingQueryRate = 1000
	// billingRunTimeout bounds the run (its request, then following its progress).
	billingRunTimeout = 30 * time.Minute
	// billingProfileFor is how long the CPU profile of the run lasts at least (--profile-dir).
	billingProfileFor = 15 * time.Second
	// billingQueryGoal is the portal's p99 goal during a run, which each second's p99 is held to.
	billingQueryGoal = 50 * time.Millisecond
	// billingReadWarmup is how long the portal reads before the run starts, uncounted.
	billingReadWarmup = 2 * time.Second
	// billingPoll is how often a run answered 202 is asked for its progress.
	billingPoll = 200 * time.Millisecond
)

// BillingRun is a tenant's billing run of next month, with the portal's reads meanwhile.
type BillingRun struct {
	Customers    int     `json:"customers_invoiced"`
	Seconds      float64 `json:"seconds"`
	InvoicesPerS float64 `json:"invoices_per_s"`
	QueryRate    int     `json:"query_rate"`
	QueryP50MS   float64 `json:"query_p50_ms"`
	QueryP99MS   float64 `json:"query_p99_ms"`
	QuerySuccess float64 `json:"query_success"`
	// The reads second by second (by when they were sent): how many seconds had reads, how
	// many of them had a p99 over the 50 ms goal, and the worst second's p99.
	QuerySeconds          int     `json:"query_seconds"`
	QuerySecondsOver50ms  int     `json:"query_seconds_over_50ms"`
	QueryWorstSecondP99MS float64 `json:"query_worst_second_p99_ms"`
	// QueryP99ByS is each second's p99 in ms, from the first read (null: no read sent then).
	QueryP99ByS    []*float64 `json:"query_p99_by_second_ms"`
	BaselineTxPerS float64    `json:"baseline_tx_per_s"`
	// ProjectedAfterS is how long after the run's end every projection had applied its
	// events: when the portal shows every invoice.
	ProjectedAfterS float64 `json:"projected_after_s"`
	// CPU and Work are per invoice, from the run's start until its events were projected:
	// the run's commands, their projections, and the reads meanwhile (the query API's and
	// the load generator's). The process managers' tracker takes the invoices in later, when
	// a dunning decision or a scheduler tick needs it, outside these figures.
	CPU  *CPU  `json:"cpu_per_invoice,omitempty"`
	Work *Work `json:"work_per_invoice,omitempty"`
	// Ratio is invoices/s over the baseline's single-row inserts/s.
	Ratio float64 `json:"ratio"`
}

// billingRunScenario runs the billing of the current month, which the history (billed up to
// last month) has not run (every customer of tenant demo with a service is invoiced), through POST /v1/billing-runs, while the query
// API is read at Config.BillingQueryRate, and reports the run's time and the reads' latencies.
func (r *run) billingRunScenario(ctx context.Context) error {
	srv, err := r.startServer(ctx)
	if err != nil {
		return err
	}
	groups, err := r.queryGroups(ctx)
	if err != nil {
		return err
	}
	period := domain.DateOf(time.Now().UTC()).Period() // the history bills up to last month
	r.cfg.Progress("billing_run: billing "+period.String()+" while the portal reads", 0, 0)
	queries := make(chan attackResults, 1)
	qctx, stopQueries := context.WithCancel(ctx)
	rate := r.cfg.BillingQueryRate
	from := make(chan time.Time, 1)
	if rate > 0 {
		go func() { queries <- readWhile(qctx, srv, groups, rate, from) }()
		// The portal reads before a bill day starts: its connections and the query API's pool
		// are warm when the run begins, and only the reads sent from then on are counted.
		r.cfg.Progress("billing_run: the portal reads for "+billingReadWarmup.String()+" before the run", 0, 0)
		select {
		case <-time.After(billingReadWarmup):
		case <-ctx.Done():
			stopQueries()
			<-queries
			return ctx.Err()
		}
	} else {
		queries <- attackResults{}
	}
	profiled := srv.profile(ctx, r.cfg.ProfileDir, "billing_run.pprof", max(r.cfg.Duration, billingProfileFor))
	cpu, work := r.startCPU(ctx, srv), r.startWork(ctx, srv)
	start := time.Now()
	from <- start
	invoiced, runErr := srv.runBilling(ctx, period)
	took := time.Since(start)
	profiled()
	stopQueries()
	reads := <-queries
	if runErr != nil {
		return runErr
	}
	r.cfg.Progress("billing_run: waiting for the invoices to be projected", 0, 0)
	ended := time.Now()
	waitCtx, cancelWait := context.WithTimeout(ctx, serverStartTimeout)
	_, err = r.waitProjections(waitCtx)
	cancelWait()
	if err != nil {
		return err
	}
	projected := time.Since(ended)
	ok := reads.ok
	b := &BillingRun{Customers: invoiced, Seconds: took.Seconds(), InvoicesPerS: float64(invoiced) / took.Seconds(),
		QueryRate: rate, QueryP50MS: ms(ok.Latencies.P50), QueryP99MS: ms(ok.Latencies.P99), QuerySuccess: reads.metrics.Success,
		BaselineTxPerS: r.report.Baseline.TxPerS}
	var worst time.Duration
	b.QuerySeconds, b.QuerySecondsOver50ms, worst = reads.bySecond.seconds(billingQueryGoal)
	b.QueryWorstSecondP99MS = ms(worst)
	b.QueryP99ByS = reads.bySecond.p99s()
	b.ProjectedAfterS = projected.Seconds()
	b.CPU, b.Work = cpu.stop(ctx, float64(invoiced)), work.stop(ctx, float64(invoiced))
	b.Ratio = ratio(b.InvoicesPerS, b.BaselineTxPerS)
	r.report.Scenarios.BillingRun = b
	return nil
}

// runBilling posts the billing run of period and returns how many customers it invoiced; a
// run answered 202 (going on in the server) is followed with GET on its Location until it
// completes.
func (s *server) runBilling(ctx context.Context, period domain.Period) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, billingRunTimeout)
	defer cancel()
	body, _ := json.Marshal(map[string]string{"period": period.String()})
	var out struct {
		Status            string `json:"status"`
		CustomersInvoiced int    `json:"customers_invoiced"`
	}
	status, location, err := s.billingCall(ctx, http.MethodPost, "/v1/billing-runs", body, "bench-billing-"+period.String(), &out)
	if err != nil {
		return 0, err
	}
	for status == http.StatusAccepted && out.Status != "completed" {
		if out.Status == "open" {
			return 0, fmt.Errorf("billing run: stopped at %d customers (open, no worker)", out.CustomersInvoiced)
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("billing run: %w", ctx.Err())
		case <-time.After(billingPoll):
		}
		if _, _, err := s.billingCall(ctx, http.MethodGet, location, nil, "", &out); err != nil {
			return 0, err
		}
	}
	return out.CustomersInvoiced, nil
}

// billingCall sends one request of the billing run to the command API and decodes its answer.
func (s *server) billingCall(ctx context.Context, method, path string, body []byte, key string, out any) (int, string, error) {
	var rd io.Reader = http.NoBody
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.commandURL+path, rd)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", "Bearer "+s.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", fmt.Errorf("billing run: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, "", fmt.Errorf("billing run: read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return 0, "", fmt.Errorf("billing run: %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(raw[:min(len(raw), 500)]))
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return 0, "", fmt.Errorf("billing run: decode the answer: %w", err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), nil
}

// attackResults are the results of one load: all of them; the successful ones, whose
// latencies are the ones reported (a request a busy server refused at once says nothing of how
// long one takes, and counted in would pull the percentiles down; metrics.Success says how many
// were refused); and the successful ones' latencies by the second they were sent in.
type attackResults struct {
	metrics  vegeta.Metrics
	ok       vegeta.Metrics
	bySecond perSecond
}

// add counts res.
func (a *attackResults) add(res *vegeta.Result) {
	a.metrics.Add(res)
	if res.Error == "" {
		a.ok.Add(res)
		a.bySecond.add(res.Timestamp, res.Latency)
	}
}

// close computes the percentiles.
func (a *attackResults) close() {
	a.metrics.Close()
	a.ok.Close()
}

// readWhile reads the groups' paths round-robin at rate req/s until ctx ends, and returns
// the results of the reads sent from the time from delivers on (none counted before).
func readWhile(ctx context.Context, srv *server, groups []loadtest.Group, rate int, from <-chan time.Time) attackResults {
	var paths []string
	for _, g := range groups {
		paths = append(paths, g.Paths...)
	}
	var n atomic.Uint64
	header := http.Header{"Authorization": {"Bearer " + srv.token}}
	targeter := func(t *vegeta.Target) error {
		i := n.Add(1)
		t.Method, t.Header = http.MethodGet, header
		t.URL = srv.queryURL + paths[int(i%uint64(len(paths)))]
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.KeepAlive(true), vegeta.Timeout(10*time.Second))
	results := attacker.Attack(targeter, vegeta.Rate{Freq: rate, Per: time.Second}, billingRunTimeout, "billing_run reads")
	go func() {
		<-ctx.Done()
		attacker.Stop()
	}()
	var (
		out   attackResults
		start time.Time
	)
	for res := range results {
		if start.IsZero() {
			select {
			case start = <-from:
			default:
				continue // it ended before the run started, so it was sent before it too
			}
		}
		if !res.Timestamp.Before(start) {
			out.add(res)
		}
	}
	out.close()
	return out
}
