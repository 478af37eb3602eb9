package process_test

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// habit is how a test customer pays.
type habit int

const (
	onTime habit = iota // pays the balance three days after an invoice is issued
	late                // pays the balance 20 days after the oldest open invoice was due
	never               // never pays
	half                // pays half of each invoice the day before it is due
)

type chaosCustomer struct {
	id       domain.CustomerID
	services []domain.ServiceID
	habit    habit
	halfPaid map[domain.InvoiceID]bool
}

// payAsHabit records what c pays on day d (the managers are stopped meanwhile).
func (f *fixture) payAsHabit(c *chaosCustomer, d domain.Date) {
	f.t.Helper()
	a, _, err := f.h.Account(context.Background(), f.tenant, c.id)
	require.NoError(f.t, err)
	open := a.OpenInvoices()
	balance, err := a.Balance()
	require.NoError(f.t, err)
	if len(open) == 0 || !balance.IsPositive() {
		return
	}
	switch c.habit {
	case onTime:
		if !open[len(open)-1].IssueDate.AddDays(3).After(d) {
			f.pay(c.id, balance.AmountString())
		}
	case late:
		if !open[0].DueDate.AddDays(20).After(d) {
			f.pay(c.id, balance.AmountString())
		}
	case half:
		for _, inv := range open {
			if !c.halfPaid[inv.ID] && !inv.DueDate.AddDays(-1).After(d) {
				c.halfPaid[inv.ID] = true
				f.pay(c.id, inv.Total.Mul(decimal.New(5, -1)).AmountString())
			}
		}
	}
}

// TestRestartMidRunNeverDuplicates runs ten weeks of a small ISP (billing runs on the 1st by
// the scheduler, payments by habit) with the managers killed at a random point of every day
// (their context cancelled while ticks, billing runs and dunning commands are in flight) and
// started again the next. Afterwards: exactly one invoice per customer per period, every run
// completed, at most one overdue mark per invoice and every overdue invoice marked, every
// suspension justified by the policy at its instant and every dunning resumption too (so a
// service is suspended exactly once per overdue episode), nothing left for the policy to do,
// and a ledger that verifies.
func TestRestartMidRunNeverDuplicates(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	seed := uint64(time.Now().UnixNano()) //nolint:gosec // a test seed
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1)) // #nosec G404 -- test timing

	f.clock.Set(at("2026-01-10", 9))
	var customers []*chaosCustomer
	for i := range 16 {
		plans := []string{"fiber_100"}
		if i%2 == 0 {
			plans = append(plans, "voip")
		}
		id, services := f.customer(fmt.Sprintf("Customer %d", i), plans...)
		customers = append(customers, &chaosCustomer{id: id, services: services, habit: habit(i % 4), halfPaid: map[domain.InvoiceID]bool{}})
	}
	cfg := f.config()
	cfg.BillingSchedule = true
	last := day("2026-03-20")
	untilTick := 0 // days left before a day that must see a full tick
	for d := day("2026-01-10"); !d.After(last); d = d.AddDays(1) {
		f.clock.Set(d.Time().Add(6 * time.Hour))
		for _, c := range customers {
			f.payAsHabit(c, d)
		}
		if f.killAtRandom(cfg, rng, untilTick == 0) {
			untilTick = maxDaysWithoutTick
		} else {
			untilTick--
		}
	}

	// A manager that is left to finish.
	m := f.start(cfg)
	for _, p := range []string{"2026-01", "2026-02", "2026-03"} {
		eventually(t, "run "+p+" completes", func() bool { return f.runCompleted(period(p)) })
	}
	require.NoError(t, m.Tick(ctx))
	m.Stop()

	all := f.decoded()
	f.checkOneInvoicePerPeriod(all, customers)
	f.checkOverdueMarks(all, customers, last)
	f.checkDunningHistory(all, 14)
	f.checkNothingLeft(customers, f.clock.Now(), 14)
	report, err := audit.New(f.store).Verify(ctx, audit.VerifyOptions{Deep: true, DensePositions: true})
	require.NoError(t, err)
	assert.Empty(t, report.Findings)
}

// maxDaysWithoutTick bounds the days in a row killAtRandom may stop the managers before a full
// tick. A late payer's invoice is past grace (14 days) for 5 days before it pays (20 days
// after the due date); were none of these days to see a complete dunning sweep (a 1-in-32
// draw of the coin below, with the Start tick cut short every time), the episode would be
// neither suspended nor resumed and the run would check no dunning resumption at all.
const maxDaysWithoutTick = 3

// killAtRandom starts a manager and stops it at a random point: on half the days within its
// first 30 ms (mid-tick, mid-run, mid-dunning), on the others (and always with tick) after a
// full tick and up to 100 ms more (event handlers and billing runs may still be going). It
// reports whether it ran the full tick. The manager is stopped even when a check fails.
func (f *fixture) killAtRandom(cfg process.Config, rng *rand.Rand, tick bool) bool {
	f.t.Helper()
	m, err := process.New(cfg)
	require.NoError(f.t, err)
	require.NoError(f.t, m.Start(context.Background()))
	defer m.Stop() // also when a require below ends the test: a manager left running outlives it
	wait := time.Duration(rng.IntN(30_000)) * time.Microsecond
	if rng.IntN(2) == 0 || tick {
		tick = true
		require.NoError(f.t, m.Tick(context.Background()))
		wait = time.Duration(rng.IntN(100_000)) * time.Microsecond
	}
	time.Sleep(wait)
	return tick
}

// checkOneInvoicePerPeriod: every customer has one recurring invoice per period, the one the
// run records. A customer may have none only if the run could not bill it: nothing billable
// when the run started, or a service suspended for non_payment while it ran (a plan that does
// not bill while suspended).
func (f *fixture) checkOneInvoicePerPeriod(all []stored, customers []*chaosCustomer) {
	for _, ps := range []string{"2026-01", "2026-02", "2026-03"} {
		p := period(ps)
		invoices := recurringInvoices(all, p)
		run, _, err := f.h.BillingRun(context.Background(), f.tenant, p)
		require.NoError(f.t, err)
		started, completed := runPositions(all, p)
		for _, c := range customers {
			k := invoices[c.id]
			if k == 0 && f.unbillable(all, c, p, started, completed) {
				continue
			}
			if !assert.Equal(f.t, 1, k, "customer %s (habit %d), period %s", c.id, c.habit, p) {
				f.dump(all, c, p)
			}
			a, _, err := f.h.Account(context.Background(), f.tenant, c.id)
			require.NoError(f.t, err)
			assert.Equal(f.t, a.BilledPeriods[p], run.Invoiced[c.id], "the run records the account's invoice")
		}
	}
}

// runPositions returns the feed positions of the run of p's start and completion.
func runPositions(all []stored, p domain.Period) (started, completed eventstore.Position) {
	for _, s := range all {
		switch e := s.event.(type) {
		case domain.BillingRunStarted:
			if e.Period == p {
				started = s.env.Position
			}
		case domain.BillingRunCompleted:
			if e.Period == p {
				completed = s.env.Position
			}
		}
	}
	return started, completed
}

// unbillable reports whether c had nothing to bill for p when its run started, or had a
// service suspended for non_payment while the run was going on.
func (f *fixture) unbillable(all []stored, c *chaosCustomer, p domain.Period, started, completed eventstore.Position) bool {
	var account domain.AccountState
	services := map[domain.ServiceID]domain.ServiceState{}
	for _, s := range all {
		if s.env.Position > completed {
			break
		}
		if e, ok := s.event.(domain.ServiceSuspended); ok && s.env.Position > started && e.CustomerID == c.id && e.Reason == domain.SuspensionNonPayment {
			return true
		}
		if s.env.Position > started {
			continue
		}
		var err error
		switch {
		case s.env.StreamID == domain.CustomerStream(f.tenant, c.id):
			account, err = domain.ApplyAccount(account, s.event)
		case slices.ContainsFunc(c.services, func(id domain.ServiceID) bool { return s.env.StreamID == domain.ServiceStream(f.tenant, id) }):
			id := serviceOf(s.event)
			services[id], err = domain.ApplyService(services[id], s.event)
		}
		require.NoError(f.t, err)
	}
	lines, err := domain.RecurringCharges(p, account, slices.Collect(maps.Values(services)))
	require.NoError(f.t, err)
	return len(lines) == 0
}

// checkOverdueMarks: no invoice is marked twice, and every invoice still owing after its due
// date is marked.
func (f *fixture) checkOverdueMarks(all []stored, customers []*chaosCustomer, today domain.Date) {
	for invoice, k := range overdueMarks(all) {
		assert.Equal(f.t, 1, k, "invoice %s", invoice)
	}
	for _, c := range customers {
		a, _, err := f.h.Account(context.Background(), f.tenant, c.id)
		require.NoError(f.t, err)
		for _, inv := range a.OpenInvoices() {
			assert.Equal(f.t, today.After(inv.DueDate), inv.Overdue, "invoice %s due %s", inv.ID, inv.DueDate)
		}
	}
}

// checkDunningHistory replays the feed and checks that every suspension for non_payment was
// what the policy decided at its instant (money owed on an invoice past grace, the service
// active), and every resumption by dunning too (the balance cleared). A second suspension
// within one overdue episode would need an unjustified resumption in between, so each service
// is suspended exactly once per episode.
func (f *fixture) checkDunningHistory(all []stored, grace int) {
	accounts := map[domain.CustomerID]domain.AccountState{}
	services := map[domain.ServiceID]domain.ServiceState{}
	var suspensions, resumptions int
	for _, s := range all {
		_, kind, _, err := domain.ParseStream(s.env.StreamID)
		require.NoError(f.t, err)
		switch kind {
		case domain.StreamCustomer:
			id := customerOf(s.event)
			accounts[id], err = domain.ApplyAccount(accounts[id], s.event)
			require.NoError(f.t, err)
		case domain.StreamService:
			id := serviceOf(s.event)
			before := services[id]
			switch e := s.event.(type) {
			case domain.ServiceSuspended:
				if e.Reason == domain.SuspensionNonPayment {
					suspensions++
					decision := f.decide(accounts[e.CustomerID], before, e.SuspendedAt, grace)
					if !assert.Equal(f.t, []domain.ServiceID{id}, decision.Suspend, "suspension of %s at position %d", id, s.env.Position) {
						f.dumpCustomer(all, e.CustomerID)
					}
				}
			case domain.ServiceResumed:
				if s.env.Metadata.Actor == process.ActorDunning {
					resumptions++
					decision := f.decide(accounts[e.CustomerID], before, e.ResumedAt, grace)
					if !assert.Equal(f.t, []domain.ServiceID{id}, decision.Resume, "resumption of %s at position %d", id, s.env.Position) {
						f.dumpCustomer(all, e.CustomerID)
					}
				}
			}
			services[id], err = domain.ApplyService(before, s.event)
			require.NoError(f.t, err)
		}
	}
	f.t.Logf("%d suspensions and %d resumptions by dunning", suspensions, resumptions)
	assert.Positive(f.t, suspensions)
	assert.Positive(f.t, resumptions)
}

func (f *fixture) decide(a domain.AccountState, s domain.ServiceState, now time.Time, grace int) domain.DunningDecision {
	balance, err := a.Balance()
	require.NoError(f.t, err)
	d, err := domain.DunningDecide(domain.DunningInput{Now: now, GraceDays: grace, Balance: balance,
		Invoices: a.DunningInvoices(), Services: []domain.DunningService{s.DunningService()}})
	require.NoError(f.t, err)
	return d
}

// checkNothingLeft: at the end the policy names nothing for any customer.
func (f *fixture) checkNothingLeft(customers []*chaosCustomer, now time.Time, grace int) {
	for _, c := range customers {
		a, _, err := f.h.Account(context.Background(), f.tenant, c.id)
		require.NoError(f.t, err)
		for _, id := range c.services {
			s, _, err := f.h.Service(context.Background(), f.tenant, id)
			require.NoError(f.t, err)
			d := f.decide(a, s, now, grace)
			assert.Empty(f.t, d.Suspend, "customer %s (habit %d) service %s", c.id, c.habit, id)
			assert.Empty(f.t, d.Resume, "customer %s (habit %d) service %s", c.id, c.habit, id)
			if c.habit == onTime {
				assert.Equal(f.t, domain.ServiceStatusActive, s.Status, "customer %s pays on time", c.id)
			}
		}
	}
}

// dumpCustomer logs, for a failure's diagnosis, the events of customer's account and
// services with their positions, recording times, actors and causes.
func (f *fixture) dumpCustomer(all []stored, customer domain.CustomerID) {
	f.t.Helper()
	for _, s := range all {
		var of domain.CustomerID
		switch e := s.event.(type) {
		case domain.ServiceProvisioned:
			of = e.CustomerID
		case domain.ServiceActivated:
			of = e.CustomerID
		case domain.ServiceSuspended:
			of = e.CustomerID
		case domain.ServiceResumed:
			of = e.CustomerID
		default:
			if s.env.StreamID == domain.CustomerStream(f.tenant, customer) {
				of = customer
			}
		}
		if of == customer {
			f.t.Logf("position %d %s v%d recorded %s by %s (causation %s): %T %+v", s.env.Position, s.env.StreamID, s.env.Version,
				s.env.RecordedAt().Format(time.RFC3339Nano), s.env.Metadata.Actor, s.env.Metadata.CausationID, s.event, s.event)
		}
	}
}

func customerOf(e domain.Event) domain.CustomerID {
	switch e := e.(type) {
	case domain.CustomerRegistered:
		return e.CustomerID
	case domain.InvoiceCreated:
		return e.CustomerID
	case domain.InvoiceIssued:
		return e.CustomerID
	case domain.InvoiceMarkedOverdue:
		return e.CustomerID
	case domain.PaymentRecorded:
		return e.CustomerID
	case domain.CreditNoteIssued:
		return e.CustomerID
	}
	panic(fmt.Sprintf("unexpected account event %T", e))
}

func serviceOf(e domain.Event) domain.ServiceID {
	switch e := e.(type) {
	case domain.ServiceProvisioned:
		return e.ServiceID
	case domain.ServiceActivated:
		return e.ServiceID
	case domain.ServiceSuspended:
		return e.ServiceID
	case domain.ServiceResumed:
		return e.ServiceID
	}
	panic(fmt.Sprintf("unexpected service event %T", e))
}

// dump logs, for a failure's diagnosis, the events of p's run stream and of c's account and
// services, with their positions, recording times and actors: a run completed late (its
// watchdog idle) shows as a gap between its start and its other events, with the next
// month's invoice billing p's days as catch-up lines in between.
func (f *fixture) dump(all []stored, c *chaosCustomer, p domain.Period) {
	f.t.Helper()
	for _, s := range all {
		id := s.env.StreamID
		if id == domain.CustomerStream(f.tenant, c.id) || id == domain.BillingRunStream(f.tenant, p) ||
			slices.ContainsFunc(c.services, func(sv domain.ServiceID) bool { return id == domain.ServiceStream(f.tenant, sv) }) {
			f.t.Logf("position %d %s v%d recorded %s by %s: %T %+v", s.env.Position, id, s.env.Version,
				s.env.RecordedAt().Format(time.RFC3339Nano), s.env.Metadata.Actor, s.event, s.event)
		}
	}
}
