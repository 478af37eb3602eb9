package commands

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

type noNumbers struct{}

func (noNumbers) Next(context.Context, domain.TenantID, int) (int64, error) {
	return 0, errors.New("no invoice numbers in this test")
}

// TestAPanicInABatchAnswersEveryCommand: a command whose decision panics fails every command
// of its batch not yet answered (domain.ErrInvariant), the panic goes on up, and the stream's
// lock is free again for the next command.
func TestAPanicInABatchAnswersEveryCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := postgres.Open(ctx, pgtest.Pool(t, postgres.MigrationSet()), postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	h, err := New(Config{Store: store, Numbers: noNumbers{}, Now: func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	tgt := target[domain.AccountState]{agg: accountAggregate, stream: "t-acme/customer-0190a2b4-0000-7000-8000-000000000001"}
	noop := func(domain.AccountState, time.Time) ([]domain.Event, error) { return nil, nil }
	boom := func(domain.AccountState, time.Time) ([]domain.Event, error) { panic("boom") }
	var reqs []*request[domain.AccountState]
	l, release := h.locks.join(tgt.stream)
	for _, d := range []decideFunc[domain.AccountState]{noop, boom, noop} {
		r := &request[domain.AccountState]{ctx: ctx, m: Meta{CommandID: uuid.Must(uuid.NewV7())}, t: tgt, decide: d, done: make(chan struct{})}
		reqs = append(reqs, r)
		l.enqueue(r)
	}
	l.held <- struct{}{}
	assert.PanicsWithValue(t, "boom", func() {
		defer l.unlock()
		lead(h, l, tgt)
	})
	release()
	for i, r := range reqs {
		require.True(t, r.finished(), "command %d answered", i)
		assert.ErrorIs(t, r.err, domain.ErrInvariant, "command %d", i)
	}
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	m, err := Meta{Tenant: tenant}.withDefaults()
	require.NoError(t, err)
	res, err := execute(ctx, h, m, tgt, noop)
	require.NoError(t, err, "the stream's lock is free again")
	assert.Zero(t, res.Version)
}

// accountFixture is a registered customer's account on a store of its own, with handlers
// over it ("processes"), all at a fixed clock.
type accountFixture struct {
	store    *postgres.Store
	tenant   domain.TenantID
	customer domain.CustomerID
	usd      domain.Currency
	tgt      target[domain.AccountState]
}

func newAccountFixture(t *testing.T, customer string) *accountFixture {
	t.Helper()
	store, err := postgres.Open(context.Background(), pgtest.Pool(t, postgres.MigrationSet()), postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	f := &accountFixture{store: store}
	f.tenant, err = domain.ParseTenantID("acme")
	require.NoError(t, err)
	f.customer, err = domain.ParseCustomerID(customer)
	require.NoError(t, err)
	f.usd, err = domain.ParseCurrency("USD")
	require.NoError(t, err)
	f.tgt = accountTarget(f.meta(t), f.customer)
	return f
}

// handlers returns a process's handlers over the fixture's store.
func (f *accountFixture) handlers(t *testing.T) *Handlers { return f.handlersOver(t, f.store) }

// handlersOver returns the fixture's handlers over store (f.store wrapped, say).
func (f *accountFixture) handlersOver(t *testing.T, store eventstore.Store) *Handlers {
	t.Helper()
	h, err := New(Config{Store: store, Numbers: noNumbers{}, Now: func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	return h
}

// meta returns a new command's metadata in the fixture's tenant.
func (f *accountFixture) meta(t *testing.T) Meta {
	t.Helper()
	m, err := Meta{Tenant: f.tenant, CommandID: uuid.Must(uuid.NewV7())}.withDefaults()
	require.NoError(t, err)
	return m
}

// register registers the customer through h (which then caches the account at version 1).
func (f *accountFixture) register(t *testing.T, h *Handlers) {
	t.Helper()
	_, err := execute(context.Background(), h, f.meta(t), target[domain.AccountState]{agg: accountAggregate, stream: f.tgt.stream},
		func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
			return domain.DecideAccount(a, domain.RegisterCustomer{CustomerID: f.customer, Currency: f.usd,
				Contact: domain.Contact{Name: "Alice Ng", Email: "alice@example.com", BillingAddress: "1 Main St"}}, now)
		})
	require.NoError(t, err)
}

// payment returns a new payment's id and the decision recording 1.00 USD under it.
func (f *accountFixture) payment(t *testing.T) (domain.PaymentID, decideFunc[domain.AccountState]) {
	t.Helper()
	id, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	return id, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		return domain.DecideAccount(a, domain.RecordPayment{PaymentID: id,
			Amount: domain.MoneyFromMinorUnits(100, f.usd), Method: domain.PaymentMethodCard, ReceivedAt: now}, now)
	}
}

// leadOneBatch queues the decisions (with their metadata) on the account's stream in h and
// runs them as one batch, as the stream's leader would.
func (f *accountFixture) leadOneBatch(h *Handlers, metas []Meta, decisions []decideFunc[domain.AccountState]) []*request[domain.AccountState] {
	var reqs []*request[domain.AccountState]
	l, release := h.locks.join(f.tgt.stream)
	for i, d := range decisions {
		r := &request[domain.AccountState]{ctx: context.Background(), m: metas[i], t: f.tgt, decide: d, done: make(chan struct{})}
		reqs = append(reqs, r)
		l.enqueue(r)
	}
	l.held <- struct{}{}
	func() {
		defer l.unlock()
		lead(h, l, f.tgt)
	}()
	release()
	return reqs
}

// TestEventsThatDoNotApplyFailOnlyTheirCommand: a command whose decided events do not apply
// (the second of its two events is an invariant error) fails alone with domain.ErrInvariant;
// the commands of its batch before and after it are appended, and the state cached for the
// stream holds none of its events, though the batch's apply chain had written the first one.
func TestEventsThatDoNotApplyFailOnlyTheirCommand(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000002")
	h := f.handlers(t)
	f.register(t, h)
	payments := make([]domain.PaymentID, 3)
	decisions := make([]decideFunc[domain.AccountState], 3)
	for i := range decisions {
		payments[i], decisions[i] = f.payment(t)
	}
	second := decisions[1]
	decisions[1] = func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		events, err := second(a, now)
		return append(events, events...), err // the second copy cannot apply
	}
	reqs := f.leadOneBatch(h, []Meta{f.meta(t), f.meta(t), f.meta(t)}, decisions)
	require.NoError(t, reqs[0].err)
	require.ErrorIs(t, reqs[1].err, domain.ErrInvariant)
	require.NoError(t, reqs[2].err)
	assert.Equal(t, reqs[0].res.Version+1, reqs[2].res.Version)
	cached := stateOf[domain.AccountState](h.cachedSnapshot(f.tgt.stream, domain.AccountState{}))
	assert.Equal(t, 2, cached.PaymentCount())
	assert.False(t, cached.HasPayment(payments[1]), "the payment whose events did not apply")
	loaded, _, err := h.Account(context.Background(), f.tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, 2, loaded.PaymentCount())
}

// TestABatchHoldingACommandAnotherProcessAppendedAnswersEach: a batch of two payments whose
// first another process has appended already (a retry racing its original there) was refused
// whole with "event id already stored". Each command now gets the answer it would have had
// alone: the first is the same command already stored, the second is appended after it.
func TestABatchHoldingACommandAnotherProcessAppendedAnswersEach(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000003")
	here, there := f.handlers(t), f.handlers(t)
	f.register(t, here) // here caches the account at version 1
	_, d0 := f.payment(t)
	_, d1 := f.payment(t)
	m0, m1 := f.meta(t), f.meta(t)
	_, err := execute(context.Background(), there, m0, f.tgt, d0) // the other process appends the first payment
	require.NoError(t, err)

	reqs := f.leadOneBatch(here, []Meta{m0, m1}, []decideFunc[domain.AccountState]{d0, d1})
	require.NoError(t, reqs[0].err, "the command the other process stored is answered as stored")
	assert.Equal(t, uint64(2), reqs[0].res.Version)
	require.NoError(t, reqs[1].err, "the other command is appended after it")
	assert.Equal(t, uint64(3), reqs[1].res.Version)
	loaded, _, err := here.Account(context.Background(), f.tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, 2, loaded.PaymentCount(), "each payment once")
}
