package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
)

func overdueMarks(all []stored) map[domain.InvoiceID]int {
	return count(all, func(e domain.Event) (domain.InvoiceID, bool) {
		m, ok := e.(domain.InvoiceMarkedOverdue)
		return m.InvoiceID, ok
	})
}

// TestOverdueSchedulerMarksTheDayAfterDueDate: with an injected clock, an unpaid invoice is
// not overdue on its due date, is marked on the next day's tick (at the clock's instant), and
// is never marked again by later ticks or a restarted manager; a paid invoice is never marked.
func TestOverdueSchedulerMarksTheDayAfterDueDate(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	unpaidBy, _ := f.customer("Unpaid", "fiber_100")
	paidBy, _ := f.customer("Paid", "fiber_100")
	unpaid := f.invoice(unpaidBy, "50.00", day("2026-03-15"))
	paid := f.invoice(paidBy, "20.00", day("2026-03-15"))
	f.pay(paidBy, "20.00")

	f.clock.Set(at("2026-03-15", 23))
	m := f.start(f.config())
	require.NoError(t, m.Tick(ctx))
	assert.Empty(t, overdueMarks(f.decoded()), "not overdue on the due date")

	marked := at("2026-03-16", 0).Add(30 * time.Minute)
	f.clock.Set(marked)
	require.NoError(t, m.Tick(ctx))
	require.NoError(t, m.Tick(ctx))
	all := f.decoded()
	marks := overdueMarks(all)
	assert.Equal(t, map[domain.InvoiceID]int{unpaid: 1}, marks)
	assert.Zero(t, marks[paid])
	for _, s := range all {
		if e, ok := s.event.(domain.InvoiceMarkedOverdue); ok {
			assert.True(t, marked.Equal(e.MarkedAt), "marked at the injected clock's instant")
			assert.Equal(t, "50.00", e.Outstanding.AmountString())
			assert.Equal(t, "process/overdue", s.env.Metadata.Actor)
		}
	}

	m.Stop()
	f.clock.Set(at("2026-03-17", 6))
	again := f.start(f.config())
	require.NoError(t, again.Tick(ctx))
	assert.Equal(t, map[domain.InvoiceID]int{unpaid: 1}, overdueMarks(f.decoded()), "a restarted manager marks nothing twice")
}

// TestOverdueSchedulerFollowsSettlement: the tracker follows partial payments, credit notes and
// voids, so only invoices still owing are marked.
func TestOverdueSchedulerFollowsSettlement(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	partly, _ := f.customer("Partly", "fiber_100")
	credited, _ := f.customer("Credited", "fiber_100")
	partial := f.invoice(partly, "50.00", day("2026-03-10"))
	f.pay(partly, "30.00")
	full := f.invoice(credited, "10.00", day("2026-03-10"))
	_, err := f.h.IssueCreditNote(ctx, f.meta(), creditNote(credited, full, f.usd("10.00")))
	require.NoError(t, err)
	// A credit note on the account settles the open invoices: 15.00 of the 25.00 owed.
	onAccount, _ := f.customer("On account", "fiber_100")
	settled := f.invoice(onAccount, "10.00", day("2026-03-10"))
	later := f.invoice(onAccount, "15.00", day("2026-03-10"))
	_, err = f.h.IssueCreditNote(ctx, f.meta(), creditNote(onAccount, domain.InvoiceID{}, f.usd("15.00")))
	require.NoError(t, err)
	tracker := process.NewTracker(f.pool, f.store)
	require.NoError(t, tracker.CatchUp(ctx))
	candidates, err := tracker.OverdueCandidates(ctx, day("2026-03-12"))
	require.NoError(t, err)
	var proposed []domain.InvoiceID
	for _, c := range candidates {
		proposed = append(proposed, c.Invoice)
	}
	assert.ElementsMatch(t, []domain.InvoiceID{partial, later}, proposed, "the tracker follows the credit note's allocations")
	assert.NotContains(t, proposed, settled)

	f.clock.Set(at("2026-03-12", 6))
	m := f.start(f.config())
	require.NoError(t, m.Tick(ctx))
	assert.Equal(t, map[domain.InvoiceID]int{partial: 1, later: 1}, overdueMarks(f.decoded()))
	for _, s := range f.decoded() {
		if e, ok := s.event.(domain.InvoiceMarkedOverdue); ok {
			want := map[domain.InvoiceID]string{partial: "20.00", later: "10.00"}[e.InvoiceID]
			assert.Equal(t, want, e.Outstanding.AmountString())
		}
	}
}

// TestTrackerIsRebuildable: the tracker is a projection of the feed: emptied and caught up
// again from position 0 it proposes the same candidates.
func TestTrackerIsRebuildable(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	for _, amount := range []string{"10.00", "20.00", "30.00"} {
		c, svcs := f.customer("C"+amount, "fiber_100")
		f.invoice(c, amount, day("2026-03-05"))
		if amount == "20.00" {
			f.pay(c, "5.00")
			_, err := f.h.SuspendService(ctx, f.meta(), commands.SuspendService{ServiceID: svcs[0], Reason: domain.SuspensionNonPayment})
			require.NoError(t, err)
		}
	}
	tracker := process.NewTracker(f.pool, f.store)
	require.NoError(t, tracker.CatchUp(ctx))
	today := day("2026-03-25")
	overdue, err := tracker.OverdueCandidates(ctx, today)
	require.NoError(t, err)
	dunning, err := tracker.DunningCandidates(ctx, today, 14)
	require.NoError(t, err)
	require.Len(t, overdue, 3)
	require.Len(t, dunning, 3)

	_, err = f.pool.Exec(ctx, `TRUNCATE proc_open_invoices, proc_nonpayment_suspensions, proc_tenants;
		UPDATE feed_checkpoints SET position = 0 WHERE consumer = 'process.tracker'`)
	require.NoError(t, err)
	require.NoError(t, tracker.CatchUp(ctx))
	again, err := tracker.OverdueCandidates(ctx, today)
	require.NoError(t, err)
	assert.Equal(t, overdue, again)
	dunningAgain, err := tracker.DunningCandidates(ctx, today, 14)
	require.NoError(t, err)
	assert.Equal(t, dunning, dunningAgain)
	tenants, err := tracker.Tenants(ctx)
	require.NoError(t, err)
	assert.Equal(t, []domain.TenantID{f.tenant}, tenants)
}
