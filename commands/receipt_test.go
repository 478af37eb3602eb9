package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

func providerPayment(ref, amount, currency string) commands.ProviderPayment {
	m, err := domain.ParseMoney(amount, currency)
	if err != nil {
		panic(err)
	}
	return commands.ProviderPayment{Provider: "mpesa", EventID: "QK" + amount + currency, AccountReference: ref,
		Amount: m, Method: domain.PaymentMethodMobileMoney, Payer: "2547****126", ReceivedAt: now.Add(-time.Minute)}
}

func TestRecordProviderPaymentOutcomes(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	noDashes := strings.ToUpper(strings.ReplaceAll(customer.String(), "-", ""))

	tests := []struct {
		name   string
		p      commands.ProviderPayment
		want   commands.ProviderOutcome
		reason domain.ReceiptReason
	}{
		{"the customer's id", providerPayment(customer.String(), "10.00", "USD"), commands.OutcomeRecorded, domain.ReceiptReason{}},
		{"the id upper case without dashes", providerPayment(" "+noDashes+" ", "11.00", "USD"), commands.OutcomeRecorded, domain.ReceiptReason{}},
		{"no customer of that id", providerPayment("0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f", "12.00", "USD"), commands.OutcomeUnallocated, domain.ReceiptUnknownCustomer},
		{"not an id", providerPayment("ACME-404", "13.00", "USD"), commands.OutcomeUnallocated, domain.ReceiptUnknownCustomer},
		{"another currency", providerPayment(customer.String(), "1400.00", "KES"), commands.OutcomeUnallocated, domain.ReceiptCurrencyMismatch},
	}
	for _, tt := range tests {
		first, err := h.RecordProviderPayment(ctx, f.meta, tt.p)
		require.NoError(t, err, tt.name)
		assert.Equal(t, tt.want, first.Outcome, tt.name)
		assert.Equal(t, tt.reason, first.Reason, tt.name)
		again, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, tt.p)
		require.NoError(t, err, tt.name)
		assert.Equal(t, commands.OutcomeDuplicate, again.Outcome, tt.name)
		assert.Equal(t, first.ID, again.ID, tt.name)
		assert.False(t, again.Changed(), tt.name)
	}
	// Nothing was lost or doubled: cash received is every distinct callback, once.
	assertCash(t, f.store, map[string]string{"USD": "46.00", "KES": "1400.00"})
}

// assertCash sums account 1000 over every journal entry of the store, per currency.
func assertCash(t *testing.T, store eventstore.Store, want map[string]string) {
	t.Helper()
	var ledger domain.LedgerTotals
	envs, err := store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(t, err)
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(t, err)
		if entry, ok, err := domain.Postings(ev); ok {
			require.NoError(t, err)
			ledger.Post(entry)
		}
	}
	got := map[string]string{}
	for _, c := range ledger.Currencies() {
		got[c.Code()] = ledger.Balance(domain.AccountCash, c).AmountString()
		assert.True(t, ledger.Net(c).IsZero(), "the journal nets to zero in %s", c)
	}
	assert.Equal(t, want, got)
}

// Identical callbacks delivered at once, to two processes, record one payment.
func TestRecordProviderPaymentConcurrently(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	processes := []*commands.Handlers{newHandlers(f.store), newHandlers(f.store)}
	customer := f.register(processes[0])
	for _, p := range []commands.ProviderPayment{providerPayment(customer.String(), "25.00", "USD"), providerPayment("nobody", "30.00", "USD")} {
		const deliveries = 8
		outcomes, ids := make(chan commands.ProviderOutcome, deliveries), make(chan string, deliveries)
		var wg sync.WaitGroup
		for i := range deliveries {
			wg.Go(func() {
				res, err := processes[i%2].RecordProviderPayment(context.Background(), f.meta, p)
				assert.NoError(t, err)
				outcomes <- res.Outcome
				ids <- res.ID
			})
		}
		wg.Wait()
		close(outcomes)
		close(ids)
		first := <-ids
		for id := range ids {
			assert.Equal(t, first, id, "every delivery names the same payment or receipt")
		}
		count := map[commands.ProviderOutcome]int{}
		for o := range outcomes {
			count[o]++
		}
		// Deliveries decided on the same version append the same event ids, which the store
		// takes once: they may each answer the first outcome. Nothing is recorded twice
		// (assertCash below).
		assert.Equal(t, deliveries, count[commands.OutcomeDuplicate]+count[commands.OutcomeRecorded]+count[commands.OutcomeUnallocated], "%s: %v", p.AccountReference, count)
	}
	assertCash(t, f.store, map[string]string{"USD": "55.00"})
}

func TestAllocateReceipt(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer, other := f.register(h), f.register(h)
	res, err := h.RecordProviderPayment(ctx, f.meta, providerPayment("ACME-404", "40.00", "USD"))
	require.NoError(t, err)
	require.Equal(t, commands.OutcomeUnallocated, res.Outcome)
	receipt, err := domain.ParseReceiptID(res.ID)
	require.NoError(t, err)
	kes, err := h.RecordProviderPayment(ctx, f.meta, providerPayment("ACME-404", "900.00", "KES"))
	require.NoError(t, err)
	kesReceipt, err := domain.ParseReceiptID(kes.ID)
	require.NoError(t, err)

	paid, err := h.AllocateReceipt(ctx, f.meta, receipt, customer)
	require.NoError(t, err)
	require.Len(t, paid.Events, 1)
	payment, ok := paid.Events[0].(domain.PaymentRecorded)
	require.True(t, ok)
	assert.Equal(t, receipt, payment.ReceiptID)
	assert.Equal(t, customer, payment.CustomerID)
	assert.Equal(t, "40.00", payment.Unapplied.AmountString(), "no invoice open: customer credit")

	again, err := newHandlers(f.store).AllocateReceipt(ctx, f.meta, receipt, customer)
	require.NoError(t, err)
	assert.False(t, again.Changed())
	assert.Equal(t, paid.ID, again.ID)

	_, err = h.AllocateReceipt(ctx, f.meta, receipt, other)
	var allocated *domain.ReceiptAllocatedError
	require.ErrorAs(t, err, &allocated)
	_, err = h.AllocateReceipt(ctx, f.meta, kesReceipt, customer)
	var mismatch *domain.CurrencyMismatchError
	require.ErrorAs(t, err, &mismatch)
	missing, err := domain.ParseReceiptID("0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f")
	require.NoError(t, err)
	_, err = h.AllocateReceipt(ctx, f.meta, missing, customer)
	var notFound *domain.NotFoundError
	require.ErrorAs(t, err, &notFound)

	acc, _, err := h.Account(ctx, f.meta.Tenant, customer)
	require.NoError(t, err)
	assert.Equal(t, "40.00", acc.Credit.AmountString())
	assertCash(t, f.store, map[string]string{"USD": "40.00", "KES": "900.00"})
}

// accountsDown refuses appends to customer accounts: a process that stops between the two
// streams of an allocation.
type accountsDown struct{ eventstore.Store }

func (s accountsDown) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, evs ...eventstore.EventData) (eventstore.AppendResult, error) {
	if strings.Contains(stream, "/customer-") {
		return eventstore.AppendResult{}, fmt.Errorf("append %s: %w", stream, eventstore.ErrUnavailable)
	}
	return s.Store.Append(ctx, stream, expected, evs...)
}

// An allocation interrupted after the receipt recorded it, before the customer's payment, is
// finished by running it again; the receipt is never given to anyone else meanwhile, and the
// money moves once.
func TestAllocateReceiptInterrupted(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer, other := f.register(h), f.register(h)
	res, err := h.RecordProviderPayment(ctx, f.meta, providerPayment("typo", "60.00", "USD"))
	require.NoError(t, err)
	receipt, err := domain.ParseReceiptID(res.ID)
	require.NoError(t, err)

	_, err = newHandlers(accountsDown{f.store}).AllocateReceipt(ctx, f.meta, receipt, customer)
	require.ErrorIs(t, err, eventstore.ErrUnavailable)
	_, err = h.AllocateReceipt(ctx, f.meta, receipt, other)
	var allocated *domain.ReceiptAllocatedError
	require.ErrorAs(t, err, &allocated, "the receipt is the first customer's already")

	paid, err := h.AllocateReceipt(ctx, f.meta, receipt, customer)
	require.NoError(t, err)
	require.Len(t, paid.Events, 1)
	acc, _, err := h.Account(ctx, f.meta.Tenant, customer)
	require.NoError(t, err)
	assert.Equal(t, "60.00", acc.Credit.AmountString())
	assertCash(t, f.store, map[string]string{"USD": "60.00"})
}

// TestOneProviderPaymentSentTwiceAtOtherInstantsIsBookedOnce: a provider sends several events
// of one payment, each with its own time (Stripe's payment_intent.succeeded and
// charge.succeeded): booked to unallocated receipts, it is one receipt, and cash is received
// once.
func TestOneProviderPaymentSentTwiceAtOtherInstantsIsBookedOnce(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	first := providerPayment("nobody", "25.00", "USD")
	second := first
	second.ReceivedAt = first.ReceivedAt.Add(3 * time.Second)
	a, err := h.RecordProviderPayment(ctx, f.meta, first)
	require.NoError(t, err)
	assert.Equal(t, commands.OutcomeUnallocated, a.Outcome)
	b, err := h.RecordProviderPayment(ctx, f.meta, second)
	require.NoError(t, err)
	assert.Equal(t, commands.OutcomeDuplicate, b.Outcome)
	assert.Equal(t, a.ID, b.ID)
	assertCash(t, f.store, map[string]string{"USD": "25.00"})
}

// TestAllocationOfAReferenceTheAccountHasIsRefusedFirst: a receipt whose provider reference the
// customer's account already holds (a payment recorded from a callback that named the
// customer, and a receipt of the same reference recorded before provider payments were
// claimed) is refused before the receipt records the allocation, so it stays unallocated
// rather than allocated with no payment.
func TestAllocationOfAReferenceTheAccountHasIsRefusedFirst(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	paid := providerPayment(customer.String(), "30.00", "USD")
	_, err := h.RecordProviderPayment(ctx, f.meta, paid)
	require.NoError(t, err)
	id, err := domain.NewReceiptID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	_, err = h.RecordUnallocatedReceipt(ctx, f.meta, domain.RecordUnallocatedReceipt{ReceiptID: id, Amount: paid.Amount,
		Method: paid.Method, ExternalReference: paid.ExternalReference(), AccountReference: "nobody",
		Reason: domain.ReceiptUnknownCustomer, ReceivedAt: paid.ReceivedAt})
	require.NoError(t, err)

	_, err = h.AllocateReceipt(ctx, f.meta, id, customer)
	var exists *domain.AlreadyExistsError
	require.ErrorAs(t, err, &exists)
	envs, err := f.store.ReadStream(ctx, domain.ReceiptStream(f.meta.Tenant, id), 1, eventstore.Forwards, eventstore.MaxReadLimit)
	require.NoError(t, err)
	require.Len(t, envs, 1, "the receipt is left as it was recorded, unallocated")
	assert.Equal(t, "UnallocatedReceiptRecorded", envs[0].Type)
}
