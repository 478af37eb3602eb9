package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// crashMidRun leaves the run of p started with only some customers billed: a process whose
// appends stop after n (it died) ran it.
func (f *fixture) crashMidRun(p domain.Period, n int64) {
	f.t.Helper()
	crashed := f.handlers(newCrashingStore(f.store, n))
	_, err := crashed.RunBilling(context.Background(), f.meta(), commands.RunBilling{Period: p})
	require.ErrorIs(f.t, err, errCrashed)
	run, _, err := f.h.BillingRun(context.Background(), f.tenant, p)
	require.NoError(f.t, err)
	require.True(f.t, run.Started())
	require.False(f.t, run.Completed)
}

func (f *fixture) runCompleted(p domain.Period) bool {
	run, _, err := f.h.BillingRun(context.Background(), f.tenant, p)
	require.NoError(f.t, err)
	return run.Completed
}

// recurringInvoices counts the recurring invoices of period p per customer.
func recurringInvoices(all []stored, p domain.Period) map[domain.CustomerID]int {
	return count(all, func(e domain.Event) (domain.CustomerID, bool) {
		c, ok := e.(domain.InvoiceCreated)
		return c.CustomerID, ok && c.Period == p
	})
}

// TestBillingRunResumesAfterCrash: a run whose process died mid-run (started, some customers
// invoiced, none recorded) is found by the billing manager on its first start and completed,
// with exactly one invoice per customer.
func TestBillingRunResumesAfterCrash(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	const n = 30
	for i := range n {
		plans := []string{"fiber_100"}
		if i%3 == 0 {
			plans = append(plans, "voip")
		}
		f.customer(fmt.Sprintf("Customer %d", i), plans...)
	}
	feb := period("2026-02")
	f.clock.Set(at("2026-02-01", 2))
	f.crashMidRun(feb, 12)
	before := recurringInvoices(f.decoded(), feb)
	require.NotEmpty(t, before, "the crashed run invoiced some customers")
	require.Less(t, len(before), n)

	f.clock.Set(at("2026-02-01", 3))
	f.start(f.config())
	eventually(t, "the run completes", func() bool { return f.runCompleted(feb) })

	all := f.decoded()
	invoices := recurringInvoices(all, feb)
	assert.Len(t, invoices, n)
	for customer, k := range invoices {
		assert.Equal(t, 1, k, "customer %s", customer)
	}
	run, _, err := f.h.BillingRun(context.Background(), f.tenant, feb)
	require.NoError(t, err)
	assert.Len(t, run.Invoiced, n)
	for customer, invoice := range run.Invoiced {
		a, _, err := f.h.Account(context.Background(), f.tenant, customer)
		require.NoError(t, err)
		assert.Equal(t, invoice, a.BilledPeriods[feb], "the run records the invoice the account has")
	}
	completions := count(all, func(e domain.Event) (domain.Period, bool) {
		c, ok := e.(domain.BillingRunCompleted)
		return c.Period, ok
	})
	assert.Equal(t, 1, completions[feb])
}

// TestBillingWatchdogLeavesAnActiveRunAlone: an unfinished run whose stream changed recently
// (another request is billing it) is resumed only once it has been idle for ResumeAfter.
func TestBillingWatchdogLeavesAnActiveRunAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	for i := range 5 {
		f.customer(fmt.Sprintf("Customer %d", i), "fiber_100")
	}
	feb := period("2026-02")
	f.clock.Set(at("2026-02-01", 2))
	f.crashMidRun(feb, 3)
	crashed := time.Now()

	cfg := f.config()
	cfg.ResumeAfter = 3 * time.Second
	f.start(cfg)
	time.Sleep(500 * time.Millisecond)
	if time.Since(crashed) < 2*time.Second { // a slow machine may already be past ResumeAfter
		assert.False(t, f.runCompleted(feb), "a run idle for less than ResumeAfter is left to its driver")
	}
	eventually(t, "the idle run completes", func() bool { return f.runCompleted(feb) })
	assert.GreaterOrEqual(t, time.Since(crashed), 2*time.Second, "resumed only after about ResumeAfter")
	for customer, k := range recurringInvoices(f.decoded(), feb) {
		assert.Equal(t, 1, k, "customer %s", customer)
	}
}

// TestScheduledBillingRun: with BillingSchedule, the first tick of a month runs every
// tenant's billing run of that month, once.
func TestScheduledBillingRun(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	for i := range 4 {
		f.customer(fmt.Sprintf("Customer %d", i), "fiber_100")
	}
	mar := period("2026-03")
	f.clock.Set(at("2026-03-01", 1))
	cfg := f.config()
	cfg.BillingSchedule = true
	m := f.start(cfg)
	eventually(t, "the scheduled run completes", func() bool { return f.runCompleted(mar) })
	require.NoError(t, m.Tick(context.Background()))
	invoices := recurringInvoices(f.decoded(), mar)
	assert.Len(t, invoices, 4)
	for customer, k := range invoices {
		assert.Equal(t, 1, k, "customer %s", customer)
	}
	assert.False(t, f.runCompleted(period("2026-02")), "only the current month is scheduled")
}
