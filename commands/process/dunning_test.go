package process_test

import (
	"context"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

func creditNote(customer domain.CustomerID, invoice domain.InvoiceID, net domain.Money) commands.IssueCreditNote {
	return commands.IssueCreditNote{CustomerID: customer, InvoiceID: invoice, Net: net, Reason: "goodwill"}
}

type serviceEvent struct {
	service domain.ServiceID
	kind    string
}

// serviceEvents counts suspensions (by reason) and resumptions per service.
func serviceEvents(all []stored) map[serviceEvent]int {
	return count(all, func(e domain.Event) (serviceEvent, bool) {
		switch e := e.(type) {
		case domain.ServiceSuspended:
			return serviceEvent{e.ServiceID, "suspended " + e.Reason.String()}, true
		case domain.ServiceResumed:
			return serviceEvent{e.ServiceID, "resumed"}, true
		}
		return serviceEvent{}, false
	})
}

func (f *fixture) status(id domain.ServiceID) (domain.ServiceStatus, domain.SuspensionReason) {
	s, _, err := f.h.Service(context.Background(), f.tenant, id)
	require.NoError(f.t, err)
	return s.Status, s.SuspensionReason
}

// TestDunningSuspendsAfterGraceAndResumesWhenCleared: an invoice overdue by more than the
// grace days suspends the customer's active services (non_payment) on the next tick, exactly
// once; a partial payment resumes nothing; the payment that clears the balance resumes them
// through the PaymentRecorded handler; a service the customer suspended on request is never
// touched; a customer who paid is never suspended.
func TestDunningSuspendsAfterGraceAndResumesWhenCleared(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	late, svcs := f.customer("Late", "fiber_100", "voip")
	fiber, phone := svcs[0], svcs[1]
	_, err := f.h.SuspendService(ctx, f.meta(), commands.SuspendService{ServiceID: phone, Reason: domain.SuspensionRequested})
	require.NoError(t, err)
	f.invoice(late, "109.98", day("2026-03-15"))
	good, goodSvcs := f.customer("Good", "fiber_100")
	f.invoice(good, "79.99", day("2026-03-15"))
	f.pay(good, "79.99")

	f.clock.Set(at("2026-03-16", 6))
	m := f.start(f.config())
	require.NoError(t, m.Tick(ctx))
	f.clock.Set(at("2026-03-29", 6)) // 14 days past due: still within grace
	require.NoError(t, m.Tick(ctx))
	assert.Empty(t, serviceEvents(f.decoded())[serviceEvent{fiber, "suspended non_payment"}])

	f.clock.Set(at("2026-03-30", 6)) // 15 days past due
	require.NoError(t, m.Tick(ctx))
	require.NoError(t, m.Tick(ctx))
	events := serviceEvents(f.decoded())
	assert.Equal(t, 1, events[serviceEvent{fiber, "suspended non_payment"}])
	assert.Equal(t, 1, events[serviceEvent{phone, "suspended requested"}], "the held phone line is left alone")
	assert.Zero(t, events[serviceEvent{goodSvcs[0], "suspended non_payment"}])
	status, reason := f.status(phone)
	assert.Equal(t, domain.ServiceStatusSuspended, status)
	assert.Equal(t, domain.SuspensionRequested, reason)

	f.clock.Set(at("2026-04-01", 10))
	f.pay(late, "50.00")
	require.NoError(t, m.Tick(ctx))
	status, _ = f.status(fiber)
	assert.Equal(t, domain.ServiceStatusSuspended, status, "a partial payment clears nothing")

	f.pay(late, "59.98")
	eventually(t, "the payment handler resumes the fiber line", func() bool {
		status, _ := f.status(fiber)
		return status == domain.ServiceStatusActive
	})
	require.NoError(t, m.Tick(ctx))
	events = serviceEvents(f.decoded())
	assert.Equal(t, 1, events[serviceEvent{fiber, "suspended non_payment"}])
	assert.Equal(t, 1, events[serviceEvent{fiber, "resumed"}])
	assert.Zero(t, events[serviceEvent{phone, "resumed"}], "dunning never resumes a requested suspension")
	status, reason = f.status(phone)
	assert.Equal(t, domain.ServiceStatusSuspended, status)
	assert.Equal(t, domain.SuspensionRequested, reason)
}

// TestDunningEvaluateIsExactlyOnce: evaluating the same cause again (a redelivered event)
// after its suspension took effect changes nothing, and the events' metadata name the cause.
func TestDunningEvaluateIsExactlyOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	customer, svcs := f.customer("Owing", "fiber_100", "fiber_100")
	f.invoice(customer, "159.98", day("2026-03-05"))
	d, err := newDunning(f)
	require.NoError(t, err)
	trigger := triggerAt(f, at("2026-03-25", 6))

	res, err := d.Evaluate(ctx, trigger, customer, nil)
	require.NoError(t, err)
	assert.ElementsMatch(t, svcs, res.Suspended)
	res, err = d.Evaluate(ctx, trigger, customer, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Suspended, "the same cause again suspends nothing")
	all := f.decoded()
	for _, id := range svcs {
		assert.Equal(t, 1, serviceEvents(all)[serviceEvent{id, "suspended non_payment"}])
	}
	for _, s := range all {
		if _, ok := s.event.(domain.ServiceSuspended); ok {
			assert.Equal(t, trigger.Cause.String(), s.env.Metadata.CausationID)
			assert.Equal(t, "process/dunning", s.env.Metadata.Actor)
		}
	}
}

// checkDunningJustified replays the feed and checks that every suspension and resumption by
// dunning is what the policy decides on the account and the service as they stood right
// before it (the restart test's invariant, for one evaluation).
func (f *fixture) checkDunningJustified(all []stored, grace int) (actions int) {
	f.t.Helper()
	accounts := map[domain.CustomerID]domain.AccountState{}
	services := map[domain.ServiceID]domain.ServiceState{}
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
			if s.env.Metadata.Actor == process.ActorDunning {
				actions++
				switch e := s.event.(type) {
				case domain.ServiceSuspended:
					d := f.decide(accounts[e.CustomerID], before, e.SuspendedAt, grace)
					assert.Equal(f.t, []domain.ServiceID{id}, d.Suspend, "suspension of %s at position %d", id, s.env.Position)
				case domain.ServiceResumed:
					d := f.decide(accounts[e.CustomerID], before, e.ResumedAt, grace)
					assert.Equal(f.t, []domain.ServiceID{id}, d.Resume, "resumption of %s at position %d", id, s.env.Position)
				}
			}
			services[id], err = domain.ApplyService(before, s.event)
			require.NoError(f.t, err)
		}
	}
	return actions
}

// legacyCredit appends to the customer's account a credit note against the account as an
// earlier version recorded it: all customer credit, beside the open invoices it left open.
// (This version settles open invoices with it; only such accounts hold an overdue invoice
// beside the credit that clears the balance.)
func (f *fixture) legacyCredit(customer domain.CustomerID, amount string) {
	f.t.Helper()
	ctx := context.Background()
	_, version, err := f.h.Account(ctx, f.tenant, customer)
	require.NoError(f.t, err)
	id, err := domain.NewCreditNoteID(uuid.Must(uuid.NewV7()))
	require.NoError(f.t, err)
	now := f.clock.Now()
	note := domain.CreditNoteIssued{CustomerID: customer, CreditNoteID: id, Net: f.usd(amount), Tax: f.usd("0"), Total: f.usd(amount),
		Reason: "goodwill", IssuedAt: now, IssuedOn: domain.DateOf(now)}
	data, err := codec.Encode(eventstore.Metadata{TenantID: f.tenant.String(), Actor: "test", RecordedAt: now}, note)
	require.NoError(f.t, err)
	_, err = f.store.Append(ctx, domain.CustomerStream(f.tenant, customer), eventstore.Exact(version), data...)
	require.NoError(f.t, err)
}

// TestDunningDecidesEachServiceOnTheAccountAsItStands: a customer whose two lines were
// suspended for non_payment, with an invoice overdue but a balance cleared by customer credit
// (an account an earlier version wrote: see legacyCredit), is resumed line by line; the first
// resumption bills the rest of the month again (a supplementary invoice the credit settles
// only in part), so the customer owes money on an overdue invoice once more and the second
// line stays suspended. Deciding both on the first read resumed the second line on an account
// that no longer justified it.
func TestDunningDecidesEachServiceOnTheAccountAsItStands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	customer, lines := f.customer("Two lines", "fiber_100", "fiber_100")
	_, err := f.h.RunBilling(ctx, f.meta(), commands.RunBilling{Period: period("2026-03"), DueDays: 14}) // 159.98 due 03-15
	require.NoError(t, err)
	f.clock.Set(at("2026-03-02", 9))
	for _, id := range lines { // each credits the rest of March: 77.41
		_, err := f.h.SuspendService(ctx, f.meta(), commands.SuspendService{ServiceID: id, Reason: domain.SuspensionNonPayment})
		require.NoError(t, err)
	}
	a, _, err := f.h.Account(ctx, f.tenant, customer)
	require.NoError(t, err)
	balance, err := a.Balance()
	require.NoError(t, err)
	// The suspensions' credit notes settle 154.82 of March: 5.16 stays outstanding, beside a
	// legacy credit of 5.16.
	require.Equal(t, "5.16", balance.AmountString())
	f.legacyCredit(customer, balance.AmountString())
	a, _, err = f.h.Account(ctx, f.tenant, customer)
	require.NoError(t, err)
	balance, err = a.Balance()
	require.NoError(t, err)
	require.True(t, balance.IsZero(), "balance %s", balance.AmountString())

	d, err := newDunning(f)
	require.NoError(t, err)
	res, err := d.Evaluate(ctx, triggerAt(f, at("2026-03-20", 6)), customer, nil) // the invoice is overdue
	require.NoError(t, err)
	assert.Len(t, res.Resumed, 1, "one line resumed: its supplementary invoice leaves money owed")
	assert.Equal(t, 1, f.checkDunningJustified(f.decoded(), 14))
	a, _, err = f.h.Account(ctx, f.tenant, customer)
	require.NoError(t, err)
	balance, err = a.Balance()
	require.NoError(t, err)
	assert.True(t, balance.IsPositive(), "the resumed line is billed again: balance %s", balance.AmountString())
}

// meddlingStore runs meddle once, the first time the stream is read: another writer changing
// the account while dunning is deciding.
type meddlingStore struct {
	eventstore.Store
	stream string
	once   sync.Once
	meddle func()
}

func (s *meddlingStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	if stream == s.stream {
		s.once.Do(s.meddle)
	}
	return s.Store.ReadStream(ctx, stream, from, dir, limit)
}

// TestDunningRereadsAnAccountChangedWhileDeciding: a resumption justified by a balance the
// customer's credit clears (a legacy account: see legacyCredit) is not made when an invoice (a billing run's, issued concurrently)
// uses the credit up between dunning's read of the account and its command: the command only
// guards the service's version, so dunning reads the account again before acting.
func TestDunningRereadsAnAccountChangedWhileDeciding(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	customer, lines := f.customer("One line", "fiber_100")
	_, err := f.h.RunBilling(ctx, f.meta(), commands.RunBilling{Period: period("2026-03"), DueDays: 14}) // 79.99 due 03-15
	require.NoError(t, err)
	f.clock.Set(at("2026-03-02", 9))
	_, err = f.h.SuspendService(ctx, f.meta(), commands.SuspendService{ServiceID: lines[0], Reason: domain.SuspensionNonPayment})
	require.NoError(t, err)
	f.legacyCredit(customer, "2.58") // the credit note settles 77.41 of March: 2.58 stays outstanding, beside 2.58 of legacy credit
	f.clock.Set(at("2026-03-20", 9))

	store := &meddlingStore{Store: f.store, stream: domain.ServiceStream(f.tenant, lines[0])}
	store.meddle = func() { f.invoice(customer, "10.00", day("2026-03-30")) } // settled by the credit
	d, err := process.NewDunning(f.handlers(store), 14)
	require.NoError(t, err)
	res, err := d.Evaluate(ctx, triggerAt(f, at("2026-03-20", 6)), customer, nil)
	require.NoError(t, err)
	assert.Empty(t, res.Resumed, "the account owes 10.00 and its March invoice is overdue")
	f.checkDunningJustified(f.decoded(), 14)
	status, _ := f.status(lines[0])
	assert.Equal(t, domain.ServiceStatusSuspended, status)
}

// lateWriteStore runs write once, right after the reads-th read of stream has been served: a
// write landing after that read and before whatever comes next.
type lateWriteStore struct {
	eventstore.Store
	stream string
	reads  int
	write  func()
	mu     sync.Mutex
	seen   int
}

func (s *lateWriteStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	envs, err := s.Store.ReadStream(ctx, stream, from, dir, limit)
	if stream == s.stream {
		s.mu.Lock()
		s.seen++
		now := s.seen == s.reads
		s.mu.Unlock()
		if now {
			s.write()
		}
	}
	return envs, err
}

// TestDunningCommandGuardsTheAccountVersion: an invoice that makes the account owe money on an
// overdue invoice again, landing after dunning's last read of the account and before its
// ResumeService, does not let the resumption through: the command carries the account version
// dunning decided on, the handler finds the account at another one and refuses, and dunning,
// deciding again on the account as it now stands, leaves the service suspended.
func TestDunningCommandGuardsTheAccountVersion(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	customer, lines := f.customer("One line", "fiber_100")
	_, err := f.h.RunBilling(ctx, f.meta(), commands.RunBilling{Period: period("2026-03"), DueDays: 14}) // 79.99 due 03-15
	require.NoError(t, err)
	f.clock.Set(at("2026-03-02", 9))
	_, err = f.h.SuspendService(ctx, f.meta(), commands.SuspendService{ServiceID: lines[0], Reason: domain.SuspensionNonPayment})
	require.NoError(t, err)
	f.legacyCredit(customer, "2.58") // the credit note settles 77.41 of March: 2.58 stays outstanding, beside 2.58 of legacy credit
	f.clock.Set(at("2026-03-20", 9))

	// Dunning reads the account twice before acting (its decision, its last look); the
	// invoice lands right after the second read.
	store := &lateWriteStore{Store: f.store, stream: domain.CustomerStream(f.tenant, customer), reads: 2}
	store.write = func() { f.invoice(customer, "10.00", day("2026-03-30")) } // uses the credit: March is overdue and owed again
	d, err := process.NewDunning(f.handlers(store), 14)
	require.NoError(t, err)
	res, err := d.Evaluate(ctx, triggerAt(f, at("2026-03-20", 6)), customer, nil)
	require.NoError(t, err)
	store.mu.Lock()
	require.GreaterOrEqual(t, store.seen, 2, "the invoice landed")
	store.mu.Unlock()
	assert.Empty(t, res.Resumed, "the account owes 10.00 and its March invoice is overdue")
	f.checkDunningJustified(f.decoded(), 14)
	status, _ := f.status(lines[0])
	assert.Equal(t, domain.ServiceStatusSuspended, status)
}
