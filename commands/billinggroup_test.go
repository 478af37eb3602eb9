package commands_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/background"
)

// multiStore is the PostgreSQL store with hooks around its multi-stream calls, counting the
// calls the billing run makes.
type multiStore struct {
	eventstore.Store
	multi eventstore.MultiStreamStore

	customerAppends, groupAppends, groupReads, streamReads atomic.Int64
	// beforeAppend, if set, runs before each AppendStreams call; it may answer in its stead.
	beforeAppend func(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome
}

func newMultiStore(f *fixture) *multiStore { return &multiStore{Store: f.store, multi: f.store} }

func (s *multiStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if _, kind, _, err := domain.ParseStream(stream); err == nil && kind == domain.StreamCustomer {
		s.customerAppends.Add(1)
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

func (s *multiStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	s.streamReads.Add(1)
	return s.Store.ReadStream(ctx, stream, from, dir, limit)
}

func (s *multiStore) ReadStreams(ctx context.Context, reads []eventstore.StreamRead, limit int) ([]eventstore.Envelope, error) {
	s.groupReads.Add(1)
	return s.multi.ReadStreams(ctx, reads, limit)
}

func (s *multiStore) AppendStreams(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome {
	s.groupAppends.Add(1)
	if s.beforeAppend != nil {
		if out := s.beforeAppend(ctx, appends); out != nil {
			return out
		}
	}
	return s.multi.AppendStreams(ctx, appends)
}

// billableCustomers registers n customers of one active fiber_100 service each.
func billableCustomers(t *testing.T, f *fixture, h *commands.Handlers, n int) []domain.CustomerID {
	t.Helper()
	ctx := context.Background()
	code, err := domain.ParsePlanCode("fiber_100")
	require.NoError(t, err)
	_, err = h.DefinePlan(ctx, f.meta, commands.DefinePlan{Code: code, Name: "Fiber 100", MonthlyPrice: usd(t, "79.99"), TaxClass: "standard"})
	require.NoError(t, err)
	out := make([]domain.CustomerID, n)
	for i := range out {
		out[i] = f.register(h)
		svc, err := h.ProvisionService(ctx, f.meta, commands.ProvisionService{CustomerID: out[i], PlanCode: code,
			StartDate: domain.DateOf(now), InstallAddress: "1 Fiber Way"})
		require.NoError(t, err)
		id, err := domain.ParseServiceID(svc.ID)
		require.NoError(t, err)
		_, err = h.ActivateService(ctx, f.meta, commands.ActivateService{ServiceID: id})
		require.NoError(t, err)
	}
	return out
}

// requireBilledOnce fails unless each customer has exactly one invoice for period, and the
// invoices' numbers are distinct; it returns the numbers.
func requireBilledOnce(t *testing.T, f *fixture, h *commands.Handlers, customers []domain.CustomerID, period domain.Period) map[string]domain.CustomerID {
	t.Helper()
	numbers := map[string]domain.CustomerID{}
	for _, c := range customers {
		a, _, err := h.Account(context.Background(), f.meta.Tenant, c)
		require.NoError(t, err)
		require.Len(t, a.Invoices, 1, "customer %s", c)
		require.Contains(t, a.BilledPeriods, period)
		for _, inv := range a.Invoices {
			prev, dup := numbers[inv.Number]
			require.False(t, dup, "number %s given to %s and %s", inv.Number, prev, c)
			numbers[inv.Number] = c
		}
	}
	return numbers
}

// requireNumbers fails unless numbers are exactly INV-2026-000001 to n.
func requireNumbers(t *testing.T, numbers map[string]domain.CustomerID, n int) {
	t.Helper()
	require.Len(t, numbers, n)
	for i := 1; i <= n; i++ {
		assert.Contains(t, numbers, commands.FormatInvoiceNumber(2026, int64(i)))
	}
}

// TestBillingRunBillsGroupsTogether: the run reads a group's accounts and services with
// multi-stream reads and appends the group's invoices with one AppendStreams call, not one
// append per customer; the invoice numbers are 1..n, gap-free.
func TestBillingRunBillsGroupsTogether(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 40)
	store := newMultiStore(f)
	h := newHandlers(store)
	period := domain.DateOf(now).Period()
	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.True(t, res.Completed)
	assert.Equal(t, 40, res.CustomersInvoiced)
	require.Len(t, res.Invoices, 40)
	assert.Zero(t, store.customerAppends.Load(), "no customer appended on its own")
	assert.Equal(t, int64(4), store.groupAppends.Load(), "40 customers among 4 workers: 4 groups, one append each")
	assert.Equal(t, int64(8), store.groupReads.Load(), "one read of the accounts and one of the services per group")
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 40)
}

// TestBillingGroupFoldsReadByRead: a group's accounts are read a few events at a time and
// folded between reads, each read going on from the stream it cut short (here every account's
// stream spans several reads, and a busy one many): the run bills every customer once, on the
// whole of its account, with the numbers 1..n.
func TestBillingGroupFoldsReadByRead(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	setup := newHandlers(f.store)
	customers := billableCustomers(t, f, setup, 9)
	ctx := context.Background()
	for range 12 { // a busy customer: its credit must be applied to its invoice
		_, err := setup.RecordPayment(ctx, f.meta, commands.RecordPayment{CustomerID: customers[4], Amount: usd(t, "5.00"),
			Method: domain.PaymentMethodCard})
		require.NoError(t, err)
	}
	store := newMultiStore(f)
	h := newHandlers(store)
	commands.SetGroupReadEvents(h, 3)
	period := domain.DateOf(now).Period()
	res, err := h.RunBilling(ctx, f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.True(t, res.Completed)
	assert.Equal(t, 9, res.CustomersInvoiced)
	assert.Zero(t, store.customerAppends.Load(), "no customer re-decided alone: every account was read whole")
	assert.Greater(t, store.groupReads.Load(), int64(9+3), "the accounts took several reads per group")
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 9)

	busy, _, err := h.Account(ctx, f.meta.Tenant, customers[4])
	require.NoError(t, err)
	require.Len(t, busy.Invoices, 1)
	for _, inv := range busy.Invoices { // 56.77 for the part of the month the service ran
		assert.True(t, inv.Outstanding.IsZero(), "the busy customer's twelve payments of credit settle its invoice")
		paid, err := inv.Settled.Add(busy.Credit)
		require.NoError(t, err)
		assert.True(t, paid.Equal(usd(t, "60.00")), "what settled it and the credit left are the twelve payments: %s", paid)
	}
}

// TestBillingGroupRedecidesAMovedAccountAlone: a command on one customer of a group lands
// between the group's read and its append; that customer's append is refused (its version
// moved) and it is billed again alone, with the number taken for it: the others' appends go
// through, everyone has one invoice, and the numbers stay 1..n.
func TestBillingGroupRedecidesAMovedAccountAlone(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	other := newHandlers(f.store)
	customers := billableCustomers(t, f, other, 8)
	store := newMultiStore(f)
	var once sync.Once
	store.beforeAppend = func(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome {
		once.Do(func() {
			_, _, id, err := domain.ParseStream(appends[0].Stream)
			require.NoError(t, err)
			customer, err := domain.ParseCustomerID(id)
			require.NoError(t, err)
			_, err = other.UpdateCustomerContact(ctx, f.meta, commands.UpdateCustomerContact{CustomerID: customer, Contact: contact("Moved")})
			require.NoError(t, err)
		})
		return nil
	}
	h := newHandlers(store)
	period := domain.DateOf(now).Period()
	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.Equal(t, 8, res.CustomersInvoiced)
	// Alone, it goes through the command path: decided on the account as the group read it,
	// refused again, then decided on the fresh one.
	assert.Equal(t, int64(2), store.customerAppends.Load(), "the moved customer alone is appended on its own")
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 8)
}

// TestBillingGroupCrashMidAppend: the process dies during a group's append, after some of
// its accounts were appended and before the run recorded any: the run is left open, and the
// next invocation (another process) records the invoices that exist and bills the rest, each
// customer once.
func TestBillingGroupCrashMidAppend(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 12)
	store := newMultiStore(f)
	store.beforeAppend = func(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome {
		half := len(appends) / 2
		out := f.store.AppendStreams(ctx, appends[:half])
		for range appends[half:] {
			out = append(out, eventstore.AppendOutcome{Err: &eventstore.UnavailableError{Op: "append", Err: errors.New("connection reset: the process died")}})
		}
		return out
	}
	period := domain.DateOf(now).Period()
	_, err := newHandlers(store).RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.ErrorIs(t, err, eventstore.ErrUnavailable)
	h := newHandlers(f.store)
	run, _, err := h.BillingRun(context.Background(), f.meta.Tenant, period)
	require.NoError(t, err)
	assert.False(t, run.Completed)

	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.True(t, res.Completed)
	assert.Equal(t, 12, res.CustomersInvoiced)
	requireBilledOnce(t, f, h, customers, period)
}

// TestBillingRunTwoProcessesAtOnce: two processes run the same period at once; each
// customer is invoiced once and the run records each once.
func TestBillingRunTwoProcessesAtOnce(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 30)
	period := domain.DateOf(now).Period()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		h := newHandlers(f.store)
		wg.Go(func() {
			_, errs[i] = h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
		})
	}
	wg.Wait()
	h := newHandlers(f.store)
	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err, "after %v", errs)
	assert.True(t, res.Completed)
	assert.Equal(t, 30, res.CustomersInvoiced)
	requireBilledOnce(t, f, h, customers, period)
}

// TestBillingRunTakesTurnsThroughTheBackgroundGate: a billing run computes only holding a
// slot of its background gate, so while the gate's only slot is held elsewhere (the portal's
// requests keep their processor) the run waits, and it stops with its context's error rather
// than computing past the gate; once the slot is free, the same run bills everyone once.
func TestBillingRunTakesTurnsThroughTheBackgroundGate(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	customers := billableCustomers(t, f, newHandlers(f.store), 12)
	gate := background.NewGate(1)
	h, err := commands.New(commands.Config{Store: f.store, Numbers: pgstore.NewNumbers(f.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(f.pool, f.store), Now: func() time.Time { return now }, Background: gate})
	require.NoError(t, err)
	period := domain.DateOf(now).Period()

	held, err := gate.Enter(context.Background())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := h.RunBilling(ctx, f.meta, commands.RunBilling{Period: period, DueDays: 14})
		done <- err
	}()
	require.Eventually(t, func() bool { return gate.Waiting() > 0 }, 10*time.Second, time.Millisecond,
		"the run waits for the gate")
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	held.Leave()

	res, err := h.RunBilling(context.Background(), f.meta, commands.RunBilling{Period: period, DueDays: 14})
	require.NoError(t, err)
	assert.True(t, res.Completed)
	requireNumbers(t, requireBilledOnce(t, f, h, customers, period), 12)
}

// TestServicesReadsEveryServiceInOneCall: Services (dunning's read of a customer's services)
// reads them with one multi-stream read, not one read per service, and answers what Service
// answers for each; an id that names no service is left out.
func TestServicesReadsEveryServiceInOneCall(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	ctx := context.Background()
	customers := billableCustomers(t, f, newHandlers(f.store), 3)
	setup := newHandlers(f.store)
	var ids []domain.ServiceID
	for _, c := range customers {
		svcs, err := setup.CustomerServices(ctx, f.meta.Tenant, c)
		require.NoError(t, err)
		ids = append(ids, svcs...)
	}
	require.Len(t, ids, 3)
	_, err := setup.SuspendService(ctx, f.meta, commands.SuspendService{ServiceID: ids[1], Reason: domain.SuspensionRequested})
	require.NoError(t, err)
	unknown, err := domain.NewServiceID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)

	store := newMultiStore(f)
	h := newHandlers(store) // a cold cache: every stream is read
	got, err := h.Services(ctx, f.meta.Tenant, append(slices.Clone(ids), unknown))
	require.NoError(t, err)
	assert.Equal(t, int64(1), store.groupReads.Load(), "one multi-stream read")
	assert.Zero(t, store.streamReads.Load(), "no read of a single stream")
	require.Len(t, got, 3, "the unknown id is left out")
	assert.NotContains(t, got, unknown)
	for _, id := range ids {
		want, version, err := setup.Service(ctx, f.meta.Tenant, id)
		require.NoError(t, err)
		assert.Equal(t, commands.VersionedService{State: want, Version: version}, got[id], "service %s", id)
	}
	assert.Equal(t, domain.ServiceStatusSuspended, got[ids[1]].State.Status)
}
