package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

var now = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

type fixture struct {
	t     *testing.T
	store *postgres.Store
	pool  *pgxpool.Pool
	meta  commands.Meta
}

// newFixture returns a store over a fresh schema and a Meta of tenant acme.
func newFixture(t *testing.T) (*fixture, func(store eventstore.Store) *commands.Handlers) {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), pgstore.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant, err := domain.ParseTenantID("acme")
	require.NoError(t, err)
	f := &fixture{t: t, store: store, pool: pool, meta: commands.Meta{Tenant: tenant, Actor: "test"}}
	newHandlers := func(s eventstore.Store) *commands.Handlers {
		h, err := commands.New(commands.Config{Store: s, Numbers: pgstore.NewNumbers(pool, pgstore.Options{}),
			Index: pgstore.NewIndex(pool, s), Now: func() time.Time { return now }, MaxAttempts: 3})
		require.NoError(t, err)
		return h
	}
	return f, newHandlers
}

func contact(name string) domain.Contact {
	return domain.Contact{Name: name, Email: "ada@example.com", BillingAddress: "1 Fiber Way"}
}

func usd(t *testing.T, amount string) domain.Money {
	t.Helper()
	m, err := domain.ParseMoney(amount, "USD")
	require.NoError(t, err)
	return m
}

func (f *fixture) register(h *commands.Handlers) domain.CustomerID {
	f.t.Helper()
	cur, err := domain.ParseCurrency("USD")
	require.NoError(f.t, err)
	res, err := h.RegisterCustomer(context.Background(), f.meta, commands.RegisterCustomer{Contact: contact("Ada"), Currency: cur})
	require.NoError(f.t, err)
	id, err := domain.ParseCustomerID(res.ID)
	require.NoError(f.t, err)
	return id
}

// TestStaleCacheNeverRefusesWrongly: a process whose cache is behind (another process changed
// the stream) decides again on the fresh state before it refuses or reports "no change".
func TestStaleCacheNeverRefusesWrongly(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	a, b := newHandlers(f.store), newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(a)

	// b changes the contact; a, still caching the first one, is asked to set the first one
	// again: on its stale state that is no change, on the fresh one it is.
	_, err := b.UpdateCustomerContact(ctx, f.meta, commands.UpdateCustomerContact{CustomerID: customer, Contact: contact("Ada King")})
	require.NoError(t, err)
	res, err := a.UpdateCustomerContact(ctx, f.meta, commands.UpdateCustomerContact{CustomerID: customer, Contact: contact("Ada")})
	require.NoError(t, err)
	assert.True(t, res.Changed())
	assert.Equal(t, uint64(3), res.Version)

	// b deactivates; a's cache still says active, but the append proves it stale and the
	// fresh decision refuses.
	_, err = b.DeactivateCustomer(ctx, f.meta, commands.DeactivateCustomer{CustomerID: customer})
	require.NoError(t, err)
	_, err = a.CreateInvoice(ctx, f.meta, commands.CreateInvoice{CustomerID: customer})
	var inactive *domain.CustomerInactiveError
	require.ErrorAs(t, err, &inactive)

	// An invoice this process has not seen yet (b created it) is found, not 404.
	fresh := newHandlers(f.store)
	other := f.register(fresh)
	inv, err := b.CreateInvoice(ctx, f.meta, commands.CreateInvoice{CustomerID: other, Lines: []domain.LineInput{{
		Description: "Router", Quantity: domain.QuantityOne(), UnitPrice: usd(t, "50.00")}}})
	require.NoError(t, err)
	invoiceID, err := domain.ParseInvoiceID(inv.ID)
	require.NoError(t, err)
	issued, err := fresh.IssueInvoice(ctx, f.meta, commands.IssueInvoice{CustomerID: other, InvoiceID: invoiceID, DueDate: domain.DateOf(now).AddDays(14)})
	require.NoError(t, err)
	assert.Len(t, issued.Events, 1)
}

// conflictingStore refuses every append with a version conflict.
type conflictingStore struct{ eventstore.Store }

func (s conflictingStore) Append(_ context.Context, stream string, expected eventstore.ExpectedVersion, _ ...eventstore.EventData) (eventstore.AppendResult, error) {
	return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: 99}
}

func TestConflictRetriesAreBounded(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(conflictingStore{f.store})
	cur, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	_, err = h.RegisterCustomer(context.Background(), f.meta, commands.RegisterCustomer{Contact: contact("Ada"), Currency: cur})
	var ce *commands.ConflictError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 3, ce.Attempts, "Config.MaxAttempts")
	assert.Equal(t, uint64(99), ce.Actual)
}

// TestRecoveringReturnsTheFirstResult: running a command again with its command id and
// Recovering returns the first result and appends nothing; a lapsed claim's retry does so
// however many events other commands appended to its stream since (a busy customer's payments
// during the claim's lease: recovery once looked at the last 500 events only, and the retry
// then got an error for a payment that had been recorded). Without Recovering the derived ids
// make it refuse rather than duplicate.
func TestRecoveringReturnsTheFirstResult(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		later  int   // payments recorded after the command
		lapsed bool  // Meta.LapsedClaim
		pages  int64 // recovery's backward reads
	}{
		{"at the end of its stream", 0, false, 1},
		{"a lapsed claim at the end of its stream", 0, true, 1},
		{"a lapsed claim past a busy stream", 1100, true, 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f, newHandlers := newFixture(t)
			h := newHandlers(f.store)
			ctx := context.Background()
			customer := f.register(h)
			m := f.meta
			m.CommandID = uuid.Must(uuid.NewV7())
			cmd := commands.RecordPayment{CustomerID: customer, Amount: usd(t, "10.00"), Method: domain.PaymentMethodCash}
			first, err := h.RecordPayment(ctx, m, cmd)
			require.NoError(t, err)
			payMany(t, h, f.meta, customer, tt.later)
			head, err := f.store.Head(ctx)
			require.NoError(t, err)

			m.Recovering, m.LapsedClaim = true, tt.lapsed
			reads := &backwardsReads{Store: f.store}
			again, err := newHandlers(reads).RecordPayment(ctx, m, cmd)
			require.NoError(t, err)
			assert.Equal(t, first.ID, again.ID)
			assert.Equal(t, first.Version, again.Version)
			assert.Equal(t, first.Position, again.Position)
			assert.Equal(t, first.Events, again.Events)
			after, err := f.store.Head(ctx)
			require.NoError(t, err)
			assert.Equal(t, head, after, "nothing appended again")
			assert.Equal(t, tt.pages, reads.n.Load(), "pages of 500 read back to the command's events")

			m.Recovering, m.LapsedClaim = false, false
			_, err = h.RecordPayment(ctx, m, cmd)
			var exists *domain.AlreadyExistsError
			require.ErrorAs(t, err, &exists, "the same command id names the same payment")
		})
	}
}

// TestMetaAtDecidesAtThatInstant: a trusted caller (the demo seeder) decides at its own
// instant instead of the clock.
func TestMetaAtDecidesAtThatInstant(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	customer := f.register(h)
	m := f.meta
	m.At = now.Add(-72 * time.Hour)
	res, err := h.RecordPayment(context.Background(), m, commands.RecordPayment{CustomerID: customer, Amount: usd(t, "1.00"), Method: domain.PaymentMethodCard})
	require.NoError(t, err)
	paid, ok := res.Events[0].(domain.PaymentRecorded)
	require.True(t, ok)
	assert.Equal(t, m.At, paid.RecordedAt)
	assert.Equal(t, m.At, paid.ReceivedAt)
}

// TestLongStreamsLoadInPages: a process that has never seen a long stream folds all of it.
func TestLongStreamsLoadInPages(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	ctx := context.Background()
	id := f.register(newHandlers(f.store))
	const updates = 2500
	evs := make([]domain.Event, updates)
	for i := range evs {
		name := "Ada"
		if i%2 == 0 {
			name = "Ada King"
		}
		evs[i] = domain.CustomerContactUpdated{CustomerID: id, Name: name, Email: "ada@example.com", BillingAddress: "1 Fiber Way", UpdatedAt: now}
	}
	data, err := codec.Encode(eventstore.Metadata{TenantID: "acme"}, evs...)
	require.NoError(t, err)
	_, err = f.store.Append(ctx, domain.CustomerStream(f.meta.Tenant, id), eventstore.Exact(1), data...)
	require.NoError(t, err)

	res, err := newHandlers(f.store).UpdateCustomerContact(ctx, f.meta, commands.UpdateCustomerContact{CustomerID: id, Contact: contact("Ada Lovelace")})
	require.NoError(t, err)
	assert.Equal(t, uint64(updates+2), res.Version)
	account, version, err := newHandlers(f.store).Account(ctx, f.meta.Tenant, id)
	require.NoError(t, err)
	assert.Equal(t, uint64(updates+2), version)
	assert.Equal(t, "Ada Lovelace", account.Customer.Contact.Name)
}

// TestRunBillingWhileRecovering: a run re-invoked with its command id and Recovering (as a
// process manager does after a crash) continues to completion, billing each customer once.
func TestRunBillingWhileRecovering(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	code, err := domain.ParsePlanCode("fiber_100")
	require.NoError(t, err)
	_, err = h.DefinePlan(ctx, f.meta, commands.DefinePlan{Code: code, Name: "Fiber 100", MonthlyPrice: usd(t, "79.99"), TaxClass: "standard"})
	require.NoError(t, err)
	for range 3 {
		customer := f.register(h)
		svc, err := h.ProvisionService(ctx, f.meta, commands.ProvisionService{CustomerID: customer, PlanCode: code,
			StartDate: domain.DateOf(now), InstallAddress: "1 Fiber Way"})
		require.NoError(t, err)
		id, err := domain.ParseServiceID(svc.ID)
		require.NoError(t, err)
		_, err = h.ActivateService(ctx, f.meta, commands.ActivateService{ServiceID: id})
		require.NoError(t, err)
	}
	m := f.meta
	m.CommandID, m.Recovering = uuid.Must(uuid.NewV7()), true
	period := domain.DateOf(now).Period()
	for range 2 {
		res, err := newHandlers(f.store).RunBilling(ctx, m, commands.RunBilling{Period: period, DueDays: 14})
		require.NoError(t, err)
		assert.True(t, res.Completed)
		assert.Equal(t, 3, res.CustomersInvoiced)
	}
}
