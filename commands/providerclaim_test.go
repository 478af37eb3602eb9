package commands_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// stripeEvents returns two events of one Stripe payment (payment_intent.succeeded and
// charge.succeeded): one whose metadata names customer, one naming nobody.
func stripeEvents(id string, customer domain.CustomerID, amount string) (named, unnamed commands.ProviderPayment) {
	named = providerPayment(customer.String(), amount, "USD")
	named.Provider, named.EventID, named.Method = "stripe", id, domain.PaymentMethodCard
	unnamed = named
	unnamed.AccountReference = ""
	unnamed.ReceivedAt = named.ReceivedAt.Add(2e9)
	return named, unnamed
}

// ledgerOf posts every journal entry of the store.
func ledgerOf(t *testing.T, store eventstore.Store) *domain.LedgerTotals {
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
	return &ledger
}

// countEvents counts the events of each type in the store whose external reference is ref.
func countEvents(t *testing.T, store eventstore.Store, ref string) map[string]int {
	t.Helper()
	envs, err := store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(t, err)
	out := map[string]int{}
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(t, err)
		switch e := ev.(type) {
		case domain.PaymentRecorded:
			if e.ExternalReference == ref {
				out[e.EventType()]++
			}
		case domain.UnallocatedReceiptRecorded:
			if e.ExternalReference == ref {
				out[e.EventType()]++
			}
		}
	}
	return out
}

// TestOneProviderPaymentIsBookedOnceWhateverItsEventsName: of two events of one payment, one
// naming the customer and one naming nobody, in either order, the money is booked once and
// ends on the customer's account; 2300 holds nothing; the journal nets to zero.
func TestOneProviderPaymentIsBookedOnceWhateverItsEventsName(t *testing.T) {
	t.Parallel()
	for _, namedFirst := range []bool{true, false} {
		t.Run(fmt.Sprintf("named first %t", namedFirst), func(t *testing.T) {
			t.Parallel()
			f, newHandlers := newFixture(t)
			h := newHandlers(f.store)
			ctx := context.Background()
			customer := f.register(h)
			named, unnamed := stripeEvents("pi_3Qx", customer, "25.00")
			order := []commands.ProviderPayment{named, unnamed}
			if !namedFirst {
				order = []commands.ProviderPayment{unnamed, named}
			}
			first, err := h.RecordProviderPayment(ctx, f.meta, order[0])
			require.NoError(t, err)
			second, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, order[1])
			require.NoError(t, err)
			if namedFirst {
				assert.Equal(t, commands.OutcomeRecorded, first.Outcome)
				assert.Equal(t, commands.OutcomeDuplicate, second.Outcome, "the later event points at the payment")
				assert.Equal(t, first.ID, second.ID)
			} else {
				assert.Equal(t, commands.OutcomeUnallocated, first.Outcome)
				assert.Equal(t, commands.ProviderOutcome("allocated"), second.Outcome, "the event naming the customer allocates the receipt")
				assert.Equal(t, customer, second.Customer)
			}
			// Redeliveries of either change nothing.
			for _, p := range order {
				again, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, p)
				require.NoError(t, err)
				assert.Equal(t, commands.OutcomeDuplicate, again.Outcome)
				assert.False(t, again.Changed())
			}
			assertCash(t, f.store, map[string]string{"USD": "25.00"})
			usdCur := named.Amount.Currency()
			ledger := ledgerOf(t, f.store)
			assert.True(t, ledger.Balance(domain.AccountUnallocated, usdCur).IsZero(), "nothing is left in unallocated receipts")
			assert.Equal(t, 1, countEvents(t, f.store, named.ExternalReference())["PaymentRecorded"], "one payment on the account")
		})
	}
}

// TestProviderPaymentEventsRacing: many deliveries of the events of several payments, some
// naming the customer and some nobody, at once in two processes: each payment is booked once
// and ends on the customer's account. A delivery that gives up on conflicts is delivered again,
// as a provider does after a 409.
func TestProviderPaymentEventsRacing(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	processes := []*commands.Handlers{newHandlers(f.store), newHandlers(f.store)}
	customer := f.register(processes[0])
	const payments, deliveries = 4, 12
	var wg sync.WaitGroup
	for n := range payments {
		named, unnamed := stripeEvents(fmt.Sprintf("pi_race%d", n), customer, "10.00")
		for i := range deliveries {
			p := unnamed
			if (i+n)%3 == 0 {
				p = named
			}
			wg.Go(func() {
				// A delivery that loses its bounded retries is answered a ConflictError (a
				// 409 to the provider), and the provider delivers it again, as here.
				for redelivery := 0; ; redelivery++ {
					res, err := processes[i%2].RecordProviderPayment(context.Background(), f.meta, p)
					var conflict *commands.ConflictError
					if errors.As(err, &conflict) && redelivery < deliveries {
						continue
					}
					assert.NoError(t, err)
					assert.Contains(t, []commands.ProviderOutcome{commands.OutcomeRecorded, commands.OutcomeUnallocated,
						commands.OutcomeAllocated, commands.OutcomeDuplicate}, res.Outcome)
					return
				}
			})
		}
	}
	wg.Wait()
	assertCash(t, f.store, map[string]string{"USD": "40.00"})
	usdCur := usd(t, "1").Currency()
	assert.True(t, ledgerOf(t, f.store).Balance(domain.AccountUnallocated, usdCur).IsZero(), "every payment ends on the account")
	for n := range payments {
		ref := fmt.Sprintf("stripe:pi_race%d", n)
		counts := countEvents(t, f.store, ref)
		assert.Equal(t, 1, counts["PaymentRecorded"], ref)
		assert.LessOrEqual(t, counts["UnallocatedReceiptRecorded"], 1, ref)
	}
}

// TestProviderPaymentEventsDisagreeing: an event of a payment booked with another amount or
// currency is refused, clearly, and books nothing.
func TestProviderPaymentEventsDisagreeing(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	for _, namedFirst := range []bool{true, false} {
		named, unnamed := stripeEvents(fmt.Sprintf("pi_mismatch_%t", namedFirst), customer, "25.00")
		first, later := named, unnamed
		if !namedFirst {
			first, later = unnamed, named
		}
		_, err := h.RecordProviderPayment(ctx, f.meta, first)
		require.NoError(t, err)
		more := later
		more.Amount = usd(t, "25.01")
		kes := later
		var err2 error
		kes.Amount, err2 = domain.ParseMoney("25.00", "KES")
		require.NoError(t, err2)
		for _, p := range []commands.ProviderPayment{more, kes} {
			_, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, p)
			var mismatch *domain.ProviderPaymentMismatchError
			require.ErrorAs(t, err, &mismatch)
			require.ErrorIs(t, err, domain.ErrRejected)
			assert.Equal(t, "25.00 USD", mismatch.Claimed.String())
			assert.Contains(t, err.Error(), first.ExternalReference())
		}
	}
	assertCash(t, f.store, map[string]string{"USD": "50.00"})
}

// TestAnInterruptedBookingIsCompleted: a payment claimed by a delivery that stopped before
// booking it (a crash) is booked, where the claim says, by the next event of the payment,
// whatever that event names.
func TestAnInterruptedBookingIsCompleted(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)

	// Claimed for the account; the retry that comes names nobody.
	named, unnamed := stripeEvents("pi_crash1", customer, "15.00")
	first, err := h.RecordProviderPayment(ctx, f.meta, named)
	require.NoError(t, err)
	payment, err := domain.ParsePaymentID(first.ID)
	require.NoError(t, err)
	named2, unnamed2 := stripeEvents("pi_crash2", customer, "20.00")
	receipt, err := domain.ParseReceiptID(mustRecord(t, newHandlers(f.store), f.meta, unnamed2).ID)
	require.NoError(t, err)
	// A third payment: claimed only, as a crashed delivery leaves it.
	_, unnamed3 := stripeEvents("pi_crash3", customer, "30.00")
	claimKey, payment3, err := commands.ProviderPaymentIDs(f.meta.Tenant, unnamed3)
	require.NoError(t, err)
	_, err = h.ClaimProviderPayment(ctx, f.meta, domain.ClaimProviderPayment{ReceiptID: claimKey,
		ExternalReference: "stripe:pi_crash3", Amount: usd(t, "30.00"), Booking: domain.BookedToAccount, Customer: customer, Payment: payment3})
	require.NoError(t, err)
	res, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, unnamed3)
	require.NoError(t, err)
	assert.Equal(t, commands.OutcomeRecorded, res.Outcome, "the claim's booking, made by an event naming nobody")
	assert.Equal(t, customer, res.Customer)
	assert.Equal(t, payment3.String(), res.ID)

	again, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, unnamed)
	require.NoError(t, err)
	assert.Equal(t, commands.OutcomeDuplicate, again.Outcome)
	assert.Equal(t, payment.String(), again.ID)
	allocated, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, named2)
	require.NoError(t, err)
	assert.Equal(t, commands.OutcomeAllocated, allocated.Outcome)
	assert.NotEqual(t, receipt.String(), allocated.ID, "the id of the allocation's payment")
	assertCash(t, f.store, map[string]string{"USD": "65.00"})
	assert.True(t, ledgerOf(t, f.store).Balance(domain.AccountUnallocated, usd(t, "1").Currency()).IsZero())
}

func mustRecord(t *testing.T, h *commands.Handlers, m commands.Meta, p commands.ProviderPayment) commands.ProviderResult {
	t.Helper()
	res, err := h.RecordProviderPayment(context.Background(), m, p)
	require.NoError(t, err)
	return res
}
