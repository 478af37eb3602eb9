package commands_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// appendOldPayment appends to customer's account what a binary from before claims recorded for
// a provider callback naming the customer: a PaymentRecorded carrying the provider's reference,
// with its own payment id, and no claim stream.
func appendOldPayment(t *testing.T, f *fixture, h *commands.Handlers, customer domain.CustomerID, p commands.ProviderPayment) domain.PaymentID {
	t.Helper()
	ctx := context.Background()
	a, version, err := h.Account(ctx, f.meta.Tenant, customer)
	require.NoError(t, err)
	id, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	events, err := domain.DecideAccount(a, domain.RecordPayment{PaymentID: id, Amount: p.Amount, Method: p.Method,
		ExternalReference: p.ExternalReference(), ReceivedAt: p.ReceivedAt}, now)
	require.NoError(t, err)
	data := make([]eventstore.EventData, len(events))
	for i, e := range events {
		name, v, raw, err := codec.EncodeEvent(e)
		require.NoError(t, err)
		data[i] = eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: name, SchemaVersion: v, Data: raw,
			Metadata: eventstore.Metadata{TenantID: f.meta.Tenant.String(), Actor: "provider/stripe", CommandID: uuid.Must(uuid.NewV7()).String()}}
	}
	_, err = f.store.Append(ctx, domain.CustomerStream(f.meta.Tenant, customer), eventstore.Exact(version), data...)
	require.NoError(t, err)
	return id
}

// TestAProviderPaymentBookedBeforeClaimsIsBookedOnce: a Stripe payment an older binary booked on
// the customer's account (no claim) is that booking for the events arriving after the upgrade,
// whatever they name and in either order: the event naming nobody is a duplicate of the old
// payment, not a second booking to unallocated receipts, and the claim names the old payment.
func TestAProviderPaymentBookedBeforeClaimsIsBookedOnce(t *testing.T) {
	t.Parallel()
	for _, namedFirst := range []bool{false, true} {
		t.Run(fmt.Sprintf("named first %t", namedFirst), func(t *testing.T) {
			t.Parallel()
			f, newHandlers := newFixture(t)
			h := newHandlers(f.store)
			ctx := context.Background()
			customer := f.register(h)
			named, unnamed := stripeEvents("pi_before_claims", customer, "25.00")
			old := appendOldPayment(t, f, h, customer, named)

			order := []commands.ProviderPayment{unnamed, named, unnamed}
			if namedFirst {
				order = []commands.ProviderPayment{named, unnamed, named}
			}
			for _, p := range order {
				res, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, p)
				require.NoError(t, err)
				assert.Equal(t, commands.OutcomeDuplicate, res.Outcome)
				assert.Equal(t, old.String(), res.ID, "the old payment is the booking")
				assert.Equal(t, customer, res.Customer)
			}
			assert.Equal(t, old, claimOf(t, f, named).PaymentID, "the claim names the old payment")
			assertCash(t, f.store, map[string]string{"USD": "25.00"})
			counts := countEvents(t, f.store, named.ExternalReference())
			assert.Equal(t, map[string]int{"PaymentRecorded": 1}, counts, "booked once, on the account")

			// Another amount for the same payment is refused, as for a payment claimed after the upgrade.
			more := unnamed
			more.Amount = usd(t, "25.01")
			_, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, more)
			var mismatch *domain.ProviderPaymentMismatchError
			require.ErrorAs(t, err, &mismatch)
		})
	}
}

// claimOf returns the recorded claim of p's payment.
func claimOf(t *testing.T, f *fixture, p commands.ProviderPayment) domain.ProviderPaymentClaimed {
	t.Helper()
	key, _, err := commands.ProviderPaymentIDs(f.meta.Tenant, p)
	require.NoError(t, err)
	envs, err := f.store.ReadStream(context.Background(), domain.ProviderPaymentStream(f.meta.Tenant, key), 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	require.Len(t, envs, 1)
	e, err := codec.Decode(&envs[0])
	require.NoError(t, err)
	claim, ok := e.(domain.ProviderPaymentClaimed)
	require.True(t, ok)
	return claim
}

// paymentsOf returns the ids of the PaymentRecorded events of ref.
func paymentsOf(t *testing.T, store eventstore.Store, ref string) []string {
	t.Helper()
	envs, err := store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(t, err)
	var out []string
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(t, err)
		if p, ok := ev.(domain.PaymentRecorded); ok && p.ExternalReference == ref {
			out = append(out, p.PaymentID.String())
		}
	}
	return out
}

// TestAClaimWithoutItsBookingIsBookedUnderItsPaymentID: a delivery that stopped after claiming
// the payment for the account (its claim appended, its payment not) leaves the booking to the
// next event of the payment, which books it under the claim's payment id: the payment stored,
// the answer of that event and of every later one name the same payment, also when the claim
// names a payment id this binary would not derive (a claim of another version, or of a claim
// that found an older payment).
func TestAClaimWithoutItsBookingIsBookedUnderItsPaymentID(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)

	t.Run("crashed after claiming", func(t *testing.T) {
		named, unnamed := stripeEvents("pi_claim_crash", customer, "12.00")
		_, err := newHandlers(accountsDown{f.store}).RecordProviderPayment(ctx, f.meta, named)
		require.ErrorIs(t, err, eventstore.ErrUnavailable, "the claim is appended, the payment is not")
		claim := claimOf(t, f, named)
		require.Equal(t, domain.BookedToAccount, claim.BookedTo)
		for i, p := range []commands.ProviderPayment{unnamed, named, unnamed} {
			res, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, p)
			require.NoError(t, err)
			assert.Equal(t, claim.PaymentID.String(), res.ID, "delivery %d names the claim's payment", i)
		}
		assert.Equal(t, []string{claim.PaymentID.String()}, paymentsOf(t, f.store, named.ExternalReference()))
	})

	t.Run("claim naming another payment id", func(t *testing.T) {
		_, unnamed := stripeEvents("pi_claim_other", customer, "13.00")
		key, derived, err := commands.ProviderPaymentIDs(f.meta.Tenant, unnamed)
		require.NoError(t, err)
		other, err := domain.NewPaymentID(uuid.Must(uuid.NewV7()))
		require.NoError(t, err)
		require.NotEqual(t, derived, other)
		_, err = h.ClaimProviderPayment(ctx, f.meta, domain.ClaimProviderPayment{ReceiptID: key, ExternalReference: unnamed.ExternalReference(),
			Amount: unnamed.Amount, Booking: domain.BookedToAccount, Customer: customer, Payment: other})
		require.NoError(t, err)
		first, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, unnamed)
		require.NoError(t, err)
		assert.Equal(t, commands.OutcomeRecorded, first.Outcome)
		again, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, unnamed)
		require.NoError(t, err)
		assert.Equal(t, commands.OutcomeDuplicate, again.Outcome)
		assert.Equal(t, []string{other.String()}, paymentsOf(t, f.store, unnamed.ExternalReference()), "booked under the claim's id")
		assert.Equal(t, other.String(), first.ID)
		assert.Equal(t, other.String(), again.ID)
	})
	assertCash(t, f.store, map[string]string{"USD": "25.00"})
}
