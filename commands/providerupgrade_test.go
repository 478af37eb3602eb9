package commands_test

import (
	"context"
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
// whatever they name: the event naming nobody is a duplicate of the old payment, not a second
// booking to unallocated receipts.
func TestAProviderPaymentBookedBeforeClaimsIsBookedOnce(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	named, unnamed := stripeEvents("pi_before_claims", customer, "25.00")
	old := appendOldPayment(t, f, h, customer, named)

	for _, p := range []commands.ProviderPayment{unnamed, named, unnamed} {
		res, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, p)
		require.NoError(t, err)
		assert.Equal(t, commands.OutcomeDuplicate, res.Outcome)
		assert.Equal(t, old.String(), res.ID, "the old payment is the booking")
		assert.Equal(t, customer, res.Customer)
	}
	assertCash(t, f.store, map[string]string{"USD": "25.00"})
	counts := countEvents(t, f.store, named.ExternalReference())
	assert.Equal(t, map[string]int{"PaymentRecorded": 1}, counts, "booked once, on the account")

	// Another amount for the same payment is refused, as for a payment claimed after the upgrade.
	more := unnamed
	more.Amount = usd(t, "25.01")
	_, err := newHandlers(f.store).RecordProviderPayment(ctx, f.meta, more)
	var mismatch *domain.ProviderPaymentMismatchError
	require.ErrorAs(t, err, &mismatch)
}
