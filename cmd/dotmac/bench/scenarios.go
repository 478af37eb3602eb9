package bench

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/gctune"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
)

// rebuiltProjections are the projections the rebuild scenario rebuilds.
var rebuiltProjections = []string{"invoices", "balances", "journal"}

// appendScenario appends to a separate schema of the scratch database (so its events do not
// join the history the other scenarios use): one event per append from Clients appenders,
// each to its own stream, then 100 events per append from one appender.
func (r *run) appendScenario(ctx context.Context) error {
	u, err := url.Parse(r.url)
	if err != nil {
		return err
	}
	if _, err := r.pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS bench_append`); err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", "bench_append")
	u.RawQuery = q.Encode()
	pool, err := db.Open(ctx, u.String(), db.Options{AppName: "dotmac-bench-append", MaxConns: 8})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate.Up(ctx, pool, postgres.MigrationSet()); err != nil {
		return err
	}
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	if err != nil {
		return err
	}
	defer store.Close()
	r.cfg.Progress("append: 64 appenders x 1 event", 0, 0)
	var seq atomic.Int64
	one, err := countFor(ctx, r.cfg.Duration, r.cfg.Clients, func(ctx context.Context) error {
		_, err := store.Append(ctx, fmt.Sprintf("bench-%d", seq.Add(1)), eventstore.NoStream(), benchEvent())
		return err
	})
	if err != nil {
		return err
	}
	r.cfg.Progress("append: 100 events per append", 0, 0)
	batches, err := countFor(ctx, r.cfg.Duration, 1, func(ctx context.Context) error {
		evs := make([]eventstore.EventData, 100)
		for i := range evs {
			evs[i] = benchEvent()
		}
		_, err := store.Append(ctx, fmt.Sprintf("bulk-%d", seq.Add(1)), eventstore.NoStream(), evs...)
		return err
	})
	if err != nil {
		return err
	}
	r.report.Scenarios.Append = &Append{EventsPerS: one, BaselineTxPerS: r.report.Baseline.TxPerS,
		Ratio: ratio(one, r.report.Baseline.TxPerS), Batch100EventsS: batches * 100, Appenders: r.cfg.Clients}
	return nil
}

func benchEvent() eventstore.EventData {
	return eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: "BenchAppended", SchemaVersion: 1,
		Data:     []byte(`{"payment_id":"0193f5a0-0000-7000-8000-000000000000","amount":{"amount":"79.99","currency":"USD"},"method":"card"}`),
		Metadata: eventstore.Metadata{TenantID: "bench", Actor: "bench", CorrelationID: "bench"}}
}

// store opens the event store over the scratch database.
func (r *run) store(ctx context.Context) (*postgres.Store, error) {
	return postgres.Open(ctx, r.pool, postgres.Config{Logger: r.cfg.Logger})
}

// runtime opens the store and a projection runtime (not started) over the read models; close
// releases both.
func (r *run) runtime(ctx context.Context) (rt *projections.Runtime, store *postgres.Store, closeAll func(), err error) {
	if store, err = r.store(ctx); err != nil {
		return nil, nil, nil, err
	}
	if rt, err = projections.New(ctx, r.pool, store, readmodel.All(), projections.Options{Logger: r.cfg.Logger}); err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	return rt, store, func() { rt.Stop(); store.Close() }, nil
}

// generate fills the scratch database with about cfg.Events realistic events (once).
func (r *run) generate(ctx context.Context) error {
	if r.generated {
		return nil
	}
	store, err := r.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	start := time.Now()
	sink := NewStoreSink(ctx, store, DefaultSinkAppenders)
	_, runErr := domainsim.Run(historyConfig(r.cfg.Events, start, r.cfg.Progress), sink)
	if err := errors.Join(runErr, sink.Close()); err != nil {
		return err
	}
	events, _ := sink.Appended()
	r.generated, r.genSeconds = true, time.Since(start).Seconds()
	r.genRate = float64(events) / r.genSeconds
	if r.cfg.BillingCustomers > 0 { // not part of the simulated history's figures
		return addBillingCustomers(ctx, store, r.cfg.BillingCustomers, time.Now().UTC(), r.cfg.Progress)
	}
	return nil
}

// Sizes of the generated history.
const (
	historyMonths  = 12
	historyWorkers = 32
)

// historyConfig is the simulation of about events events over a year for tenant "demo",
// whose last month is the one before now: its billing run, on the first of this month, ends
// the history as a live ledger's ends, and the server's schedulers then find what a real day
// finds (this month's invoices open), not a year of overdue invoices.
// Config.Progress is called from the simulation's workers at once: calls to progress are
// serialized here.
func historyConfig(events int, now time.Time, progress func(step string, done, total int64)) domainsim.Config {
	first := domain.DateOf(now.AddDate(0, -historyMonths, 0)).Period()
	var mu sync.Mutex
	return domainsim.Config{Customers: domainsim.CustomersFor(events, historyMonths), Months: historyMonths, Start: first,
		Seed: 1, GraceDays: process.DefaultGraceDays, Workers: historyWorkers, Progress: func(done, total int) {
			mu.Lock()
			defer mu.Unlock()
			progress("generating history through the domain", int64(done), int64(total))
		}}
}

// rebuildScenario rebuilds invoices, balances and journal in one replay, beside one SQL
// aggregate over the same events.
func (r *run) rebuildScenario(ctx context.Context) error {
	if err := r.generate(ctx); err != nil {
		return err
	}
	// A ledger's history is old rows: measure on a settled table, not alongside the
	// autovacuum and hint-bit writes a freshly generated million rows set off.
	if err := r.settle(ctx); err != nil {
		return err
	}
	defer gctune.Batch()() // as `dotmac projections rebuild` runs
	rt, store, closeAll, err := r.runtime(ctx)
	if err != nil {
		return err
	}
	defer closeAll()
	head, err := store.Head(ctx)
	if err != nil {
		return err
	}
	r.cfg.Progress("baseline: one SQL aggregate over the events", 0, 0)
	base, err := sqlAggregate(ctx, r.pool)
	if err != nil {
		return err
	}
	start := time.Now()
	_, err = rt.RebuildMany(ctx, rebuiltProjections, projections.RebuildOptions{Progress: func(p projections.Progress) {
		r.cfg.Progress("rebuild invoices, balances, journal", int64(p.Position), int64(p.Target))
	}})
	if err != nil {
		return err
	}
	took := time.Since(start).Seconds()
	rb := &Rebuild{GenerateSeconds: r.genSeconds, GeneratedEventsPerS: r.genRate}
	r.report.Scenarios.Rebuild = rb
	rb.Events, rb.Seconds = int64(head), took
	rb.EventsPerS = float64(head) / took
	rb.BaselineEventsPerS, rb.Ratio = base, ratio(rb.EventsPerS, base)
	return nil
}

// verifyScenario times audit verify (the ledger checks, then --deep) over the history.
func (r *run) verifyScenario(ctx context.Context) error {
	if err := r.generate(ctx); err != nil {
		return err
	}
	if err := r.settle(ctx); err != nil { // as for the rebuild
		return err
	}
	defer gctune.Batch()() // as `dotmac audit verify` runs
	store, err := r.store(ctx)
	if err != nil {
		return err
	}
	defer store.Close()
	r.cfg.Progress("baseline: read the feed out with COPY", 0, 0)
	base, err := feedReadRate(ctx, r.pool)
	if err != nil {
		return err
	}
	a := audit.New(store)
	progress := func(done, total int64) { r.cfg.Progress("audit verify", done, total) }
	rep, err := a.Verify(ctx, audit.VerifyOptions{DensePositions: true, Progress: progress})
	if err != nil {
		return err
	}
	deep, err := a.Verify(ctx, audit.VerifyOptions{DensePositions: true, Deep: true, Progress: progress})
	if err != nil {
		return err
	}
	r.report.Scenarios.Verify = &Verify{EventsPerS: rep.EventsPerSecond, DeepEventsPerS: deep.EventsPerSecond,
		Events: rep.Events, OK: rep.OK && deep.OK, BaselineEventsPerS: base, Ratio: ratio(rep.EventsPerSecond, base)}
	return nil
}
