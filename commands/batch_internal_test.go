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

// TestEventsThatDoNotApplyFailOnlyTheirCommand: a command whose decided events do not apply
// (the second of its two events is an invariant error) fails alone with domain.ErrInvariant;
// the commands of its batch before and after it are appended, and the state cached for the
// stream holds none of its events, though the batch's apply chain had written the first one.
func TestEventsThatDoNotApplyFailOnlyTheirCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := postgres.Open(ctx, pgtest.Pool(t, postgres.MigrationSet()), postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	h, err := New(Config{Store: store, Numbers: noNumbers{}, Now: func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	m, err := Meta{Tenant: tenant}.withDefaults()
	require.NoError(t, err)
	customer, err := domain.ParseCustomerID("0190a2b4-0000-7000-8000-000000000002")
	require.NoError(t, err)
	tgt := accountTarget(m, customer)
	usd, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	_, err = execute(ctx, h, m, target[domain.AccountState]{agg: accountAggregate, stream: tgt.stream}, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		return domain.DecideAccount(a, domain.RegisterCustomer{CustomerID: customer, Currency: usd,
			Contact: domain.Contact{Name: "Alice Ng", Email: "alice@example.com", BillingAddress: "1 Main St"}}, now)
	})
	require.NoError(t, err)
	payments := make([]domain.PaymentID, 3)
	pay := func(i int) decideFunc[domain.AccountState] {
		id, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
		require.NoError(t, err)
		payments[i] = id
		return func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
			return domain.DecideAccount(a, domain.RecordPayment{PaymentID: payments[i],
				Amount: domain.MoneyFromMinorUnits(100, usd), Method: domain.PaymentMethodCard, ReceivedAt: now}, now)
		}
	}
	twice := func(d decideFunc[domain.AccountState]) decideFunc[domain.AccountState] {
		return func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
			events, err := d(a, now)
			return append(events, events...), err // the second copy cannot apply
		}
	}
	var reqs []*request[domain.AccountState]
	l, release := h.locks.join(tgt.stream)
	for _, d := range []decideFunc[domain.AccountState]{pay(0), twice(pay(1)), pay(2)} {
		r := &request[domain.AccountState]{ctx: ctx, m: Meta{Tenant: tenant, CommandID: uuid.Must(uuid.NewV7())}, t: tgt, decide: d, done: make(chan struct{})}
		reqs = append(reqs, r)
		l.enqueue(r)
	}
	l.held <- struct{}{}
	func() {
		defer l.unlock()
		lead(h, l, tgt)
	}()
	release()
	require.NoError(t, reqs[0].err)
	require.ErrorIs(t, reqs[1].err, domain.ErrInvariant)
	require.NoError(t, reqs[2].err)
	assert.Equal(t, reqs[0].res.Version+1, reqs[2].res.Version)
	cached := stateOf[domain.AccountState](h.cachedSnapshot(tgt.stream, domain.AccountState{}))
	assert.Len(t, cached.Payments, 2)
	assert.NotContains(t, cached.Payments, payments[1])
	loaded, _, err := h.Account(ctx, tenant, customer)
	require.NoError(t, err)
	assert.Len(t, loaded.Payments, 2)
}

// TestABatchHoldingACommandAnotherProcessAppendedAnswersEach: a batch of two payments whose
// first another process has appended already (a retry racing its original there) was refused
// whole with "event id already stored". Each command now gets the answer it would have had
// alone: the first is the same command already stored, the second is appended after it.
func TestABatchHoldingACommandAnotherProcessAppendedAnswersEach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	store, err := postgres.Open(ctx, pgtest.Pool(t, postgres.MigrationSet()), postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	now := func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }
	here, err := New(Config{Store: store, Numbers: noNumbers{}, Now: now})
	require.NoError(t, err)
	there, err := New(Config{Store: store, Numbers: noNumbers{}, Now: now})
	require.NoError(t, err)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	m, err := Meta{Tenant: tenant}.withDefaults()
	require.NoError(t, err)
	customer, err := domain.ParseCustomerID("0190a2b4-0000-7000-8000-000000000003")
	require.NoError(t, err)
	tgt := accountTarget(m, customer)
	usd, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	_, err = execute(ctx, here, m, target[domain.AccountState]{agg: accountAggregate, stream: tgt.stream}, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		return domain.DecideAccount(a, domain.RegisterCustomer{CustomerID: customer, Currency: usd,
			Contact: domain.Contact{Name: "Alice Ng", Email: "alice@example.com", BillingAddress: "1 Main St"}}, now)
	})
	require.NoError(t, err) // here caches the account at version 1
	pay := func() (Meta, decideFunc[domain.AccountState]) {
		id, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
		require.NoError(t, err)
		pm, err := Meta{Tenant: tenant, CommandID: uuid.Must(uuid.NewV7())}.withDefaults()
		require.NoError(t, err)
		return pm, func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
			return domain.DecideAccount(a, domain.RecordPayment{PaymentID: id,
				Amount: domain.MoneyFromMinorUnits(100, usd), Method: domain.PaymentMethodCard, ReceivedAt: now}, now)
		}
	}
	m0, d0 := pay()
	m1, d1 := pay()
	_, err = execute(ctx, there, m0, tgt, d0) // the other process appends the first payment
	require.NoError(t, err)

	var reqs []*request[domain.AccountState]
	l, release := here.locks.join(tgt.stream)
	for i, d := range []decideFunc[domain.AccountState]{d0, d1} {
		r := &request[domain.AccountState]{ctx: ctx, m: []Meta{m0, m1}[i], t: tgt, decide: d, done: make(chan struct{})}
		reqs = append(reqs, r)
		l.enqueue(r)
	}
	l.held <- struct{}{}
	func() {
		defer l.unlock()
		lead(here, l, tgt)
	}()
	release()
	require.NoError(t, reqs[0].err, "the command the other process stored is answered as stored")
	assert.Equal(t, uint64(2), reqs[0].res.Version)
	require.NoError(t, reqs[1].err, "the other command is appended after it")
	assert.Equal(t, uint64(3), reqs[1].res.Version)
	loaded, _, err := here.Account(ctx, tenant, customer)
	require.NoError(t, err)
	assert.Len(t, loaded.Payments, 2, "each payment once")
}
