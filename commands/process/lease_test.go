package process_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// groupState returns the holder of a consumer group's lease ("" when none) and its offset.
func (f *fixture) groupState(group string) (string, int64) {
	f.t.Helper()
	var holder *string
	var pos *int64
	err := f.pool.QueryRow(context.Background(), `SELECT lease_holder, position FROM feed_checkpoints WHERE consumer = $1`, group).Scan(&holder, &pos)
	if err != nil {
		return "", 0
	}
	h, p := "", int64(0)
	if holder != nil {
		h = *holder
	}
	if pos != nil {
		p = *pos
	}
	return h, p
}

// TestOneManagerHandlesEachGroup: with two managers running, one holds both consumer groups'
// leases and handles their events (it completes a crashed billing run); when it stops, the
// other takes the groups over and handles the next (a second crashed run), each customer
// invoiced once per period.
func TestOneManagerHandlesEachGroup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	const customers = 6
	for i := range customers {
		f.customer(fmt.Sprintf("Customer %d", i), "fiber_100")
	}
	groups := []string{"process.billing", "process.dunning"}
	holds := func(holder string) func() bool {
		return func() bool {
			for _, g := range groups {
				if h, _ := f.groupState(g); h != holder {
					return false
				}
			}
			return true
		}
	}
	// On March 1st the February invoices are overdue past 14 days of grace: dunning would
	// suspend services, and a service suspended before the March run is rightly not billed for
	// March, which raced the run (one customer in about fifty runs). The grace here outlasts
	// the test, so every customer stays billable.
	const grace = 90
	cfgA := f.config()
	cfgA.GraceDays = grace
	cfgA.Lease = consumer.LeaseConfig{Holder: "a", Poll: 10 * time.Millisecond}
	a := f.start(cfgA)
	eventually(t, "a holds both groups", holds("a"))
	cfgB := f.config()
	cfgB.GraceDays = grace
	cfgB.Lease = consumer.LeaseConfig{Holder: "b", Poll: 10 * time.Millisecond}
	f.start(cfgB)

	feb, mar := period("2026-02"), period("2026-03")
	f.clock.Set(at("2026-02-01", 2))
	f.crashRun(feb)
	eventually(t, "the February run is completed", func() bool { return f.runCompleted(feb) })
	assert.True(t, holds("a")(), "a still holds both groups")

	a.Stop()
	eventually(t, "b takes both groups over", holds("b"))
	f.clock.Set(at("2026-03-01", 2))
	f.crashRun(mar)
	eventually(t, "b completes the March run", func() bool { return f.runCompleted(mar) })
	all := f.decoded()
	for _, p := range []domain.Period{feb, mar} {
		invoiced := recurringInvoices(all, p)
		assert.Len(t, invoiced, customers, p.String())
		for c, n := range invoiced {
			assert.Equal(t, 1, n, "%s: customer %s", p, c)
		}
	}
}

// crashRun starts the run of p in a process that dies after two appends. The running
// managers may complete the run at once, before that process's next append: it then finds the
// run complete and returns without crashing, which is as good for the tests (the run is
// completed by the managers either way); any other error fails.
func (f *fixture) crashRun(p domain.Period) {
	f.t.Helper()
	_, err := f.handlers(newCrashingStore(f.store, 2)).RunBilling(context.Background(), f.meta(), commands.RunBilling{Period: p})
	if err != nil {
		require.ErrorIs(f.t, err, errCrashed)
	}
}

// ticks returns the scheduler ticks a manager's registry has counted and its leader gauge.
func ticks(t *testing.T, reg *prometheus.Registry) (count, leader float64) {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range families {
		for _, m := range mf.GetMetric() {
			switch mf.GetName() {
			case "dotmac_process_ticks_total":
				count += m.GetCounter().GetValue()
			case "dotmac_process_scheduler_leader":
				leader = m.GetGauge().GetValue()
			}
		}
	}
	return count, leader
}

// TestOneManagerRunsTheScheduler: of two managers, only the holder of the scheduler's lease
// ticks; the other stands by and takes over when the first stops.
func TestOneManagerRunsTheScheduler(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	start := func(holder string) (*process.Manager, *prometheus.Registry) {
		reg := prometheus.NewRegistry()
		cfg := f.config()
		cfg.TickInterval = 20 * time.Millisecond
		cfg.Registerer = reg
		cfg.Lease = consumer.LeaseConfig{Holder: holder, Poll: 10 * time.Millisecond}
		return f.start(cfg), reg
	}
	a, regA := start("a")
	eventually(t, "a ticks", func() bool { n, leader := ticks(t, regA); return n >= 2 && leader == 1 })
	_, regB := start("b")
	eventually(t, "a ticks on while b stands by", func() bool { n, _ := ticks(t, regA); return n >= 6 })
	n, leader := ticks(t, regB)
	assert.Zero(t, n, "b ticked while a held the scheduler")
	assert.Zero(t, leader)
	holder, _ := f.groupState("process.scheduler")
	assert.Equal(t, "a", holder)

	a.Stop()
	_, leaderA := ticks(t, regA)
	assert.Zero(t, leaderA, "a still says it leads after it stopped")
	eventually(t, "b takes the scheduler over", func() bool { n, leader := ticks(t, regB); return n >= 2 && leader == 1 })
	holder, _ = f.groupState("process.scheduler")
	assert.Equal(t, "b", holder)
}
