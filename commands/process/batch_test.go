package process_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// feedAfter returns the feed's events after pos.
func (f *fixture) feedAfter(pos eventstore.Position) []eventstore.Envelope {
	f.t.Helper()
	envs, err := f.store.ReadAll(context.Background(), pos, eventstore.MaxReadLimit)
	require.NoError(f.t, err)
	return envs
}

// TestDunningBatchCostsTheSameStatementsForAnySize: the dunning group answers "which of
// these customers may need dunning" for a whole batch at once. A batch of payments the
// tracker has applied costs one statement of the managers' pool, whatever its size; a batch
// the tracker is behind on costs a catch-up (its settlements one statement) and a second
// check, the same for 3 payments as for 30 (per event it was a check each, a catch-up for
// most, and a statement per settled invoice).
func TestDunningBatchCostsTheSameStatementsForAnySize(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	pool, tracer := f.countedPool()
	mcfg := f.config()
	mcfg.Pool = pool // the managers' statements are counted; the handlers' are not
	m, err := process.New(mcfg)
	require.NoError(t, err)

	statements := func(payments int) (behind, caughtUp int64) {
		customers := make([]domain.CustomerID, payments)
		for i := range customers {
			customers[i], _ = f.customer(fmt.Sprintf("Payer %d-%d", payments, i))
			f.invoice(customers[i], "10.00", day("2026-03-31"))
		}
		head, err := f.store.Head(ctx)
		require.NoError(t, err)
		f.pay(customers[0], "1.00")
		require.NoError(t, m.DunningBatch(ctx, f.feedAfter(head))) // the tracker applies the invoices
		head, err = f.store.Head(ctx)
		require.NoError(t, err)
		for _, c := range customers { // each payment settles (part of) an open invoice
			f.pay(c, "5.00")
		}
		envs := f.feedAfter(head)
		require.Len(t, envs, payments)
		tracer.n.Store(0)
		require.NoError(t, m.DunningBatch(ctx, envs)) // the tracker is behind: it catches up first
		behind = tracer.n.Load()
		tracer.n.Store(0)
		require.NoError(t, m.DunningBatch(ctx, envs)) // the same batch again (a redelivery)
		return behind, tracer.n.Load()
	}
	statements(1) // the tracker's first catch-up also makes sure of its checkpoint row
	behind3, caughtUp3 := statements(3)
	behind30, caughtUp30 := statements(30)
	t.Logf("statements: behind %d and %d, caught up %d and %d", behind3, behind30, caughtUp3, caughtUp30)
	assert.Equal(t, int64(1), caughtUp3, "statements of a batch of 3 payments the tracker has applied")
	assert.Equal(t, int64(1), caughtUp30, "statements of a batch of 30 payments the tracker has applied")
	assert.Equal(t, behind3, behind30, "statements of a batch the tracker is behind on: 3 payments, then 30")
	assert.LessOrEqual(t, behind30, int64(12), "a catch-up and two checks")
}

// TestDunningBatchAsksForHoldsOnce: the dunning group asks whether the tenants of a batch's
// customers are on hold in one statement for the batch (it was one per evaluation sent), and
// sends no evaluation for a held tenant's customers; once the hold is released, the first
// customer's evaluation is sent, as of its event.
func TestDunningBatchAsksForHoldsOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	customers := make([]domain.CustomerID, 3)
	for i := range customers {
		customers[i], _ = f.customer(fmt.Sprintf("Late %d", i), "fiber_100")
		f.invoice(customers[i], "50.00", day("2026-03-01"))
	}
	f.clock.Set(at("2026-03-20", 9)) // 19 days past due: beyond grace
	pool, tracer := f.countedPool()
	var (
		mu   sync.Mutex
		sent []*process.EvaluateDunning
	)
	mcfg := f.config()
	mcfg.Pool = pool
	mcfg = process.WithBeforeSend(mcfg, func(cmd any) error {
		if c, ok := cmd.(*process.EvaluateDunning); ok {
			mu.Lock()
			sent = append(sent, c)
			mu.Unlock()
		}
		return errSent // no manager runs here to take it: the batch stops at its first send
	})
	m, err := process.New(mcfg)
	require.NoError(t, err)
	head, err := f.store.Head(ctx)
	require.NoError(t, err)
	for _, c := range customers {
		f.pay(c, "1.00")
	}
	envs := f.feedAfter(head)
	require.Len(t, envs, 3)

	holds := process.NewHolds(f.pool)
	require.NoError(t, holds.Hold(ctx, f.tenant, "import", "test", time.Minute))
	require.NoError(t, m.DunningBatch(ctx, envs)) // the tracker catches up first
	tracer.n.Store(0)
	require.NoError(t, m.DunningBatch(ctx, envs))
	assert.Equal(t, int64(2), tracer.n.Load(), "which customers may need dunning, and which of their tenants are held")
	mu.Lock()
	assert.Empty(t, sent, "a held tenant's customers are not evaluated")
	mu.Unlock()

	require.NoError(t, holds.Release(ctx, f.tenant, "import"))
	require.ErrorIs(t, m.DunningBatch(ctx, envs), errSent)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, sent, 1)
	assert.Equal(t, customers[0], sent[0].Customer)
	assert.Equal(t, envs[0].Position, sent[0].Position, "evaluated as of its payment")
}

var errSent = errors.New("sent")

// TestMayNeedDunningAllAnswersEachCustomer: the batch check answers for each customer in the
// order asked, a customer asked twice twice, in one statement once caught up.
func TestMayNeedDunningAllAnswersEachCustomer(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	late, _ := f.customer("Late", "fiber_100")
	f.invoice(late, "10.00", day("2026-03-05"))
	onTime, _ := f.customer("OnTime", "fiber_100")
	f.pay(onTime, "5.00")
	other, err := domain.ParseTenantID("other")
	require.NoError(t, err)

	tracker := process.NewTracker(f.pool, f.store)
	head, err := f.store.Head(ctx)
	require.NoError(t, err)
	refs := []process.CustomerRef{{Tenant: f.tenant, Customer: onTime}, {Tenant: f.tenant, Customer: late},
		{Tenant: other, Customer: late}, {Tenant: f.tenant, Customer: late}}
	may, err := tracker.MayNeedDunningAll(ctx, refs, head, day("2026-03-25"), 14)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, true, false, true}, may)
	may, err = tracker.MayNeedDunningAll(ctx, refs, head, day("2026-03-10"), 14)
	require.NoError(t, err)
	assert.Equal(t, []bool{false, false, false, false}, may, "within grace")
}

var (
	errInjected = errors.New("injected failure")
	errNoTick   = errors.New("the test's tick sends nothing")
)

// TestDunningBatchFailureRedeliversTheBatch: three customers are marked overdue, suspended for
// non_payment and pay in full while the managers are stopped; the dunning group gets all of it
// in one batch and fails on the last customer. The batch is nacked and handled again (the last customer evaluated again), its
// offset is not saved past it, and after a restart the batch is handled once more: every
// service is resumed, each exactly once, though the first two customers were evaluated on
// every delivery. The scheduler's sweep sends nothing in this test (its dunning commands
// fail), so only the batch resumes.
func TestDunningBatchFailureRedeliversTheBatch(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	// The dunning group starts at the head when it first runs: run it once, so that it
	// delivers what follows.
	m1 := f.start(f.config())
	eventually(t, "the dunning group has its offset", func() bool { _, offset := f.groupState("process.dunning"); return offset > 0 })
	m1.Stop()
	var (
		customers []domain.CustomerID
		fibers    []domain.ServiceID
		invoices  []domain.InvoiceID
	)
	for i := range 3 {
		c, svcs := f.customer(fmt.Sprintf("Late %d", i), "fiber_100")
		invoices = append(invoices, f.invoice(c, "79.99", day("2026-03-15")))
		customers, fibers = append(customers, c), append(fibers, svcs[0])
	}
	dunning, err := newDunning(f)
	require.NoError(t, err)
	for i, c := range customers {
		_, marked, err := process.MarkOverdue(ctx, f.h, triggerAt(f, at("2026-03-16", 6)), c, invoices[i])
		require.NoError(t, err)
		require.True(t, marked)
	}
	for _, c := range customers {
		f.clock.Set(at("2026-03-30", 6))
		res, err := dunning.Evaluate(ctx, triggerAt(f, at("2026-03-30", 6)), c, nil)
		require.NoError(t, err)
		require.Len(t, res.Suspended, 1)
	}

	f.clock.Set(at("2026-04-01", 10))
	for _, c := range customers {
		f.pay(c, "79.99")
	}
	var lastPayment eventstore.Position
	for _, s := range f.decoded() {
		if p, ok := s.event.(domain.PaymentRecorded); ok && p.CustomerID == customers[2] {
			lastPayment = s.env.Position
		}
	}
	require.NotZero(t, lastPayment)
	tick := process.DunningTickCause(f.tenant, day("2026-04-01"))
	var (
		mu   sync.Mutex
		sent = map[domain.CustomerID]int{}
		// the feed position each evaluation said its cause was at (Trigger.Position)
		causedAt = map[domain.CustomerID]eventstore.Position{}
	)
	hook := func(failLast bool) func(any) error {
		return func(cmd any) error {
			c, ok := cmd.(*process.EvaluateDunning)
			if !ok {
				return nil
			}
			if c.Cause == tick {
				return errNoTick
			}
			mu.Lock()
			defer mu.Unlock()
			sent[c.Customer]++
			causedAt[c.Customer] = c.Position
			if failLast && c.Customer == customers[2] {
				return errInjected
			}
			return nil
		}
	}
	sends := func(c domain.CustomerID) int {
		mu.Lock()
		defer mu.Unlock()
		return sent[c]
	}

	m2 := f.start(process.WithBeforeSend(f.config(), hook(true)))
	eventually(t, "the failed batch is delivered again", func() bool { return sends(customers[2]) >= 2 })
	m2.Stop()
	assert.GreaterOrEqual(t, sends(customers[0]), 1)
	mu.Lock()
	assert.Equal(t, lastPayment, causedAt[customers[2]], "an evaluation carries the position of its customer's last event in the batch, the payment")
	mu.Unlock()
	for i, s := range fibers {
		status, _ := f.status(s)
		want := domain.ServiceStatusActive
		if i == 2 {
			want = domain.ServiceStatusSuspended
		}
		assert.Equal(t, want, status, "service %d after the failing deliveries", i)
	}
	_, offset := f.groupState("process.dunning")
	assert.Less(t, offset, int64(lastPayment), "the dunning offset stops before the failed batch")

	f.start(process.WithBeforeSend(f.config(), hook(false)))
	eventually(t, "the batch is handled after the restart", func() bool {
		status, _ := f.status(fibers[2])
		return status == domain.ServiceStatusActive
	})
	events := serviceEvents(f.decoded())
	for i, s := range fibers {
		assert.Equal(t, 1, events[serviceEvent{s, "suspended non_payment"}], "service %d", i)
		assert.Equal(t, 1, events[serviceEvent{s, "resumed"}], "service %d", i)
	}
}
