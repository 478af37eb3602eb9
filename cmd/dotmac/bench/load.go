package bench

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/quantile"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/readapi/loadtest"
)

// Limits of the load scenarios.
const (
	// maxCustomersTargeted is the working set of the commands scenario: within the command
	// side's state cache, as a portal's active customers are (a cold customer costs a fold
	// of its stream).
	maxCustomersTargeted = 1000
	commandsWarmup       = 2 * time.Second
	maxQueryTargets      = 1000
	lagSampleEvery       = 50 * time.Millisecond
	queryP99Target       = 10 * time.Millisecond
)

// searchRates are tried, besides the configured ones, for the highest rate whose p99 stays
// within 10 ms.
var searchRates = []int{2000, 3000, 4000, 6000, 8000}

// commandsAndLag drives RecordPayment over HTTP against the server under test with Clients
// concurrent clients for Duration (vegeta, as fast as the server answers), while measuring how
// long events take to reach every projection.
func (r *run) commandsAndLag(ctx context.Context) error {
	srv, err := r.startServer(ctx)
	if err != nil {
		return err
	}
	customers, err := r.customers(ctx)
	if err != nil {
		return err
	}
	rt, store, closeAll, err := r.runtime(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	r.cfg.Progress("commands: warming up", 0, 0)
	warmUp(srv, customers, r.cfg.Clients, r.cfg.Duration)
	lagCtx, stopLag := context.WithCancel(ctx)
	lags := make(chan []time.Duration, 1)
	go func() { lags <- measureLag(lagCtx, store, rt) }()
	r.cfg.Progress("commands: RecordPayment over HTTP", 0, 0)
	profiled := srv.profile(ctx, r.cfg.ProfileDir, "commands.pprof", r.cfg.Duration)
	cpu, work := r.startCPU(ctx, srv), r.startWork(ctx, srv)
	m := attackPayments(srv, customers, r.cfg.Clients, r.cfg.Duration)
	c := commandsOf(m, r.cfg.Clients, r.report.Baseline.TxPerS)
	c.CPU = cpu.stop(ctx, c.CommandsPerS*m.metrics.Duration.Seconds())
	c.Work = work.stop(ctx, c.CommandsPerS*m.metrics.Duration.Seconds())
	profiled()
	stopLag()
	samples := <-lags
	r.report.Scenarios.Commands = &c
	r.report.Scenarios.Lag = lagReport(samples)
	return nil
}

// hotClients are the client counts of the commands_hot scenario.
var hotClients = []int{16, 64}

// hotCommandsScenario drives RecordPayment on one customer of the history with 16, then 64
// concurrent clients: the commands of one stream, which the handlers batch into shared appends.
func (r *run) hotCommandsScenario(ctx context.Context) error {
	srv, err := r.startServer(ctx)
	if err != nil {
		return err
	}
	customers, err := r.customers(ctx)
	if err != nil {
		return err
	}
	hot := customers[:1]
	base := r.report.Baseline.TxPerS
	for _, clients := range hotClients {
		r.cfg.Progress(fmt.Sprintf("commands_hot: %d clients on one customer", clients), 0, 0)
		warmUp(srv, hot, clients, r.cfg.Duration)
		profiled := srv.profile(ctx, r.cfg.ProfileDir, fmt.Sprintf("commands_hot_%d.pprof", clients), r.cfg.Duration)
		cpu, work := r.startCPU(ctx, srv), r.startWork(ctx, srv)
		m := attackPayments(srv, hot, clients, r.cfg.Duration)
		c := commandsOf(m, clients, base)
		c.CPU = cpu.stop(ctx, c.CommandsPerS*m.metrics.Duration.Seconds())
		c.Work = work.stop(ctx, c.CommandsPerS*m.metrics.Duration.Seconds())
		profiled()
		r.report.Scenarios.CommandsHot = append(r.report.Scenarios.CommandsHot, c)
	}
	return nil
}

// commandsOf is the report of a commands attack by clients, beside the baseline.
func commandsOf(a attackResults, clients int, baseline float64) Commands {
	m, ok := a.metrics, a.ok
	c := Commands{CommandsPerS: float64(ok.Requests) / m.Duration.Seconds(), P50MS: ms(ok.Latencies.P50), P95MS: ms(ok.Latencies.P95),
		P99MS: ms(ok.Latencies.P99), P99BySecondMS: a.bySecond.p99s(), BaselineTxPerS: baseline, Clients: clients,
		Errors: m.Requests - ok.Requests}
	c.Ratio = ratio(c.CommandsPerS, baseline)
	return c
}

// customers lists customer ids of the generated history.
func (r *run) customers(ctx context.Context) ([]string, error) {
	rows, err := r.pool.Query(ctx, `SELECT split_part(stream_id, '/customer-', 2) FROM es_events
		WHERE type = 'CustomerRegistered' ORDER BY position LIMIT $1`, maxCustomersTargeted)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no customers to pay: the history is empty")
	}
	return out, rows.Err()
}

// warmUp pays every customer once, then goes on paying them round-robin for commandsWarmup
// (at most d), before a commands scenario is measured. The first command of a customer the
// server has not seen since it started folds the customer's whole stream: on a history of
// 200,000 events the 1,000 customers' first payments took about 3 s, longer than the warm-up
// by time alone, and the few hundred that fell into the measured window were a twelfth of the
// server's allocations there. The scenario measures the customers a portal keeps busy, whose
// state the server holds.
func warmUp(srv *server, customers []string, clients int, d time.Duration) {
	attackPaymentsN(srv, customers, clients, 0, uint64(len(customers)))
	attackPayments(srv, customers, clients, min(commandsWarmup, d))
}

// attackPayments posts payments round-robin over customers, each with its own idempotency
// key and reference, from clients workers as fast as answers come back, for d.
func attackPayments(srv *server, customers []string, clients int, d time.Duration) attackResults {
	return attackPaymentsN(srv, customers, clients, d, 0)
}

// attackPaymentsN is attackPayments that stops after limit payments, if limit > 0 (d 0: no
// time limit).
func attackPaymentsN(srv *server, customers []string, clients int, d time.Duration, limit uint64) attackResults {
	var n atomic.Uint64
	header := http.Header{"Authorization": {"Bearer " + srv.token}, "Content-Type": {"application/json"}}
	targeter := func(t *vegeta.Target) error {
		i := n.Add(1)
		if limit > 0 && i > limit {
			return vegeta.ErrNoTargets
		}
		h := header.Clone()
		key := uuid.NewString()
		h.Set("Idempotency-Key", key)
		t.Method, t.Header = http.MethodPost, h
		t.URL = srv.commandURL + "/v1/customers/" + customers[int(i%uint64(len(customers)))] + "/payments"
		t.Body = []byte(`{"amount":{"amount":"1.00","currency":"USD"},"method":"card","external_reference":"bench-` + key + `"}`)
		return nil
	}
	attacker := vegeta.NewAttacker(vegeta.Workers(uint64(clients)), vegeta.MaxWorkers(uint64(clients)), vegeta.Connections(clients),
		vegeta.KeepAlive(true), vegeta.Timeout(30*time.Second))
	var out attackResults
	for res := range attacker.Attack(targeter, vegeta.Rate{Freq: 0}, d, "payments") {
		out.add(res)
	}
	out.close()
	return out
}

// measureLag samples the head every lagSampleEvery and records, for each sample, how long
// until every projection's checkpoint reached it. It waits with the runtime's WaitFor, which
// hears each live batch's announcement (LISTEN) and reads the database once per wait, so
// that watching the lag costs the server under test little of the CPU the commands are
// measured with (polling each projection's checkpoint every 5 ms cost PostgreSQL about 600
// statements a second). The bench's runtime runs no projection of its own: its waits ask
// nothing of the server's live handlers.
func measureLag(ctx context.Context, store eventstore.Store, rt *projections.Runtime) []time.Duration {
	var (
		mu   sync.Mutex
		lags []time.Duration
		wg   sync.WaitGroup
	)
	t := time.NewTicker(lagSampleEvery)
	defer t.Stop()
	for ctx.Err() == nil {
		if head, err := store.Head(ctx); err == nil {
			at := time.Now()
			wg.Go(func() {
				for _, name := range rt.Names() {
					if _, err := rt.WaitFor(ctx, name, head); err != nil {
						return // the phase ended first: not reached, not counted
					}
				}
				mu.Lock()
				lags = append(lags, time.Since(at))
				mu.Unlock()
			})
		}
		select {
		case <-t.C:
		case <-ctx.Done():
		}
	}
	wg.Wait()
	return lags
}

func lagReport(lags []time.Duration) *Lag {
	if len(lags) == 0 {
		return &Lag{}
	}
	return &Lag{P50MS: ms(quantile.Of(lags, 0.50)), P99MS: ms(quantile.Of(lags, 0.99)), MaxMS: ms(slices.Max(lags)), Samples: len(lags)}
}

// queryScenario reads an invoice by id and a customer's invoice list at fixed rates, then
// searches for the highest rate whose p99 stays within 10 ms for both.
func (r *run) queryScenario(ctx context.Context) error {
	srv, err := r.startServer(ctx)
	if err != nil {
		return err
	}
	groups, err := r.queryGroups(ctx)
	if err != nil {
		return err
	}
	if r.report.Scenarios.Commands != nil { // the commands scenario wrote just now
		if err := r.settle(ctx); err != nil {
			return err
		}
	}
	q := &Query{SuccessAt1000: 1}
	rates := slices.Clone(r.cfg.QueryRates)
	for _, s := range searchRates {
		if !slices.Contains(rates, s) {
			rates = append(rates, s)
		}
	}
	sort.Ints(rates)
	for _, rate := range rates {
		r.cfg.Progress(fmt.Sprintf("query at %d req/s", rate), 0, 0)
		profiled := func() {}
		if rate == rates[0] {
			profiled = srv.profile(ctx, r.cfg.ProfileDir, "query.pprof", r.cfg.Duration)
		}
		res, err := loadtest.Run(ctx, loadtest.Config{BaseURL: srv.queryURL, Token: srv.token, Rate: rate,
			Duration: r.cfg.Duration, Warmup: min(time.Second, r.cfg.Duration/4)}, groups...)
		profiled()
		if err != nil {
			return err
		}
		within := true
		for _, g := range res {
			q.Rates = append(q.Rates, QueryRate{Endpoint: g.Group, Rate: rate, Achieved: g.Rate, P50MS: ms(g.P50), P99MS: ms(g.P99), Success: g.Success})
			within = within && g.P99 <= queryP99Target && g.Success >= 0.999 && g.Rate >= 0.95*float64(rate)
			if rate == 1000 {
				q.P99MSAt1000 = max(q.P99MSAt1000, ms(g.P99))
				q.SuccessAt1000 = min(q.SuccessAt1000, g.Success)
			}
		}
		if !within {
			break // higher rates only get slower
		}
		q.MaxRateP99Le10MS = rate
	}
	r.report.Scenarios.Query = q
	return nil
}

// queryGroups picks invoices and customers from the read model (once its projection caught up).
func (r *run) queryGroups(ctx context.Context) ([]loadtest.Group, error) {
	rows, err := r.pool.Query(ctx, `SELECT invoice_id::text, customer_id::text FROM invoices ORDER BY invoice_id LIMIT $1`, maxQueryTargets)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	byID := loadtest.Group{Name: "invoice by id"}
	list := loadtest.Group{Name: "customer's invoice list"}
	for rows.Next() {
		var inv, cust string
		if err := rows.Scan(&inv, &cust); err != nil {
			return nil, err
		}
		byID.Paths = append(byID.Paths, "/v1/invoices/"+inv)
		list.Paths = append(list.Paths, "/v1/customers/"+cust+"/invoices")
	}
	if len(byID.Paths) == 0 {
		return nil, fmt.Errorf("no invoices in the read model to query")
	}
	return []loadtest.Group{byID, list}, rows.Err()
}
