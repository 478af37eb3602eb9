package process_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
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
