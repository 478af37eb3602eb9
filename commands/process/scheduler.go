package process

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// Scheduler limits.
const (
	// schedulerWorkers bounds the commands one tick has in flight.
	schedulerWorkers = 8
	// maxRoundsPerTick bounds the candidate queries of one tick (each up to maxCandidates).
	maxRoundsPerTick = 100
)

// lead runs the scheduler only while this process holds the scheduler's lease (consumer
// groupScheduler): of several processes running the managers, exactly one ticks at a time,
// the others stand by and take over within the lease's TTL when it stops or its lease runs
// out. A lease lost while ticking cancels the tick; the process stands by again.
func (m *Manager) lead(ctx context.Context) {
	lease := consumer.NewLease(m.cfg.Pool, groupScheduler, m.cfg.Lease)
	for ctx.Err() == nil {
		err := lease.Hold(ctx, func(ctx context.Context) error {
			m.metrics.leader.Set(1)
			defer m.metrics.leader.Set(0)
			m.log.Info().Str("holder", lease.Holder()).Msg("process: this process runs the scheduler")
			m.schedule(ctx)
			return nil
		})
		if err == nil || ctx.Err() != nil {
			continue
		}
		m.log.Warn().Err(err).Msg("process: scheduler lease lost or unavailable; standing by")
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

// schedule ticks at once and then every TickInterval until ctx ends.
func (m *Manager) schedule(ctx context.Context) {
	t := time.NewTicker(m.cfg.TickInterval)
	defer t.Stop()
	for {
		start := time.Now()
		err := m.Tick(ctx)
		if err != nil && ctx.Err() == nil {
			m.log.Warn().Err(err).Msg("process: scheduler tick failed; the next tick tries again")
		}
		if ctx.Err() == nil {
			m.metrics.observe(start, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick runs the scheduler once at the clock's current instant: it catches the tracker up,
// marks every invoice overdue whose due date has passed, evaluates dunning for every customer
// owing on an invoice past the grace days or with a service suspended for non_payment, and
// (with BillingSchedule) runs each tenant's billing run of the current month if it has not
// started. Each command goes through the bus like the event handlers' commands. Ticks are
// serialized; Start ticks at once and every TickInterval.
func (m *Manager) Tick(ctx context.Context) error {
	m.tickMu.Lock()
	defer m.tickMu.Unlock()
	now := m.now()
	today := domain.DateOf(now)
	if err := m.tracker.CatchUp(ctx); err != nil {
		return err
	}
	if err := m.markOverdue(ctx, today, now); err != nil {
		return err
	}
	if err := m.sweepDunning(ctx, today, now); err != nil {
		return err
	}
	if m.cfg.BillingSchedule {
		return m.scheduleBilling(ctx, today.Period(), now)
	}
	return nil
}

// markOverdue marks the invoices due before today, in rounds of maxCandidates.
func (m *Manager) markOverdue(ctx context.Context, today domain.Date, now time.Time) error {
	for range maxRoundsPerTick {
		refs, err := m.tracker.OverdueCandidates(ctx, today)
		if err != nil {
			return err
		}
		err = forEach(ctx, len(refs), func(ctx context.Context, i int) error {
			r := refs[i]
			return m.send(ctx, &MarkOverdueInvoice{Tenant: r.Tenant, Customer: r.Customer, Invoice: r.Invoice, At: now})
		})
		if err != nil || len(refs) < maxCandidates {
			return err
		}
		if err := m.tracker.CatchUp(ctx); err != nil {
			return err
		}
	}
	return nil
}

// sweepDunning evaluates the dunning candidates; the tick's cause is the day, per tenant.
func (m *Manager) sweepDunning(ctx context.Context, today domain.Date, now time.Time) error {
	refs, err := m.tracker.DunningCandidates(ctx, today, m.cfg.GraceDays)
	if err != nil {
		return err
	}
	return forEach(ctx, len(refs), func(ctx context.Context, i int) error {
		r := refs[i]
		return m.send(ctx, &EvaluateDunning{Tenant: r.Tenant, Customer: r.Customer, Cause: DunningTickCause(r.Tenant, today), At: now})
	})
}

// scheduleBilling runs the billing run of period for every tenant whose run has not started.
// A run that started (here or through the API) is the billing watchdog's to finish.
func (m *Manager) scheduleBilling(ctx context.Context, period domain.Period, now time.Time) error {
	tenants, err := m.tracker.Tenants(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, tenant := range tenants {
		run, _, err := m.h.BillingRun(ctx, tenant, period)
		if err == nil && !run.Started() {
			err = m.send(ctx, &RunBillingPeriod{Tenant: tenant, Period: period, Cause: periodCause(tenant, period), At: now})
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("scheduled billing run %s of %s: %w", period, tenant, err))
		}
	}
	return errors.Join(errs...)
}

// forEach runs fn for 0..n-1 with at most schedulerWorkers at once, and returns the first error.
func forEach(ctx context.Context, n int, fn func(ctx context.Context, i int) error) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(schedulerWorkers)
	for i := range n {
		g.Go(func() error { return fn(ctx, i) })
	}
	return g.Wait()
}

// wmLogger sends Watermill's logs to zerolog (its info chatter at debug).
type wmLogger struct {
	log    zerolog.Logger
	fields watermill.LogFields
}

func (l wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	if quietError(err) {
		return
	}
	l.log.Warn().Err(err).Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Info(msg string, fields watermill.LogFields) {
	l.log.Debug().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Debug(msg string, fields watermill.LogFields) {
	l.log.Trace().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Trace(msg string, fields watermill.LogFields) {
	l.log.Trace().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{log: l.log, fields: l.fields.Add(fields)}
}

// tickMetrics are the scheduler's Prometheus metrics: ticks by result, their duration, and
// when the last one succeeded (an operator's alert: no successful tick for two intervals).
type tickMetrics struct {
	ticks    *prometheus.CounterVec
	duration prometheus.Histogram
	lastOK   prometheus.Gauge
	leader   prometheus.Gauge
}

func (t *tickMetrics) register(reg prometheus.Registerer) error {
	t.ticks = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dotmac", Subsystem: "process",
		Name: "ticks_total", Help: "Scheduler ticks (overdue marks, dunning sweep, scheduled billing) by result."}, []string{"result"})
	t.duration = prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: "dotmac", Subsystem: "process",
		Name: "tick_duration_seconds", Help: "Duration of scheduler ticks.", Buckets: prometheus.ExponentialBuckets(0.01, 4, 9)})
	t.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dotmac", Subsystem: "process",
		Name: "last_successful_tick_timestamp_seconds", Help: "When the last scheduler tick that succeeded ended (Unix time)."})
	t.leader = prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dotmac", Subsystem: "process",
		Name: "scheduler_leader", Help: "1 while this process holds the scheduler's lease and runs its ticks, 0 while it stands by."})
	if reg == nil {
		return nil
	}
	for _, c := range []prometheus.Collector{t.ticks, t.duration, t.lastOK, t.leader} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("process: register metrics: %w", err)
		}
	}
	return nil
}

func (t *tickMetrics) observe(start time.Time, err error) {
	end := time.Now()
	t.duration.Observe(end.Sub(start).Seconds())
	if err != nil {
		t.ticks.WithLabelValues("error").Inc()
		return
	}
	t.ticks.WithLabelValues("ok").Inc()
	t.lastOK.Set(float64(end.UnixNano()) / 1e9)
}
