package commands_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// TestRecordCustomersInvoicedOncePerCustomer: records of one chunk are decided on the run as
// loaded, not one after another; a customer listed twice, or recorded already, is recorded
// once all the same.
func TestRecordCustomersInvoicedOncePerCustomer(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	period := domain.DateOf(now).Period()
	_, err := h.StartBillingRun(ctx, f.meta, period)
	require.NoError(t, err)
	run, _, err := h.BillingRun(ctx, f.meta.Tenant, period)
	require.NoError(t, err)
	billed := make([]commands.BilledInvoice, 3)
	for i := range billed {
		billed[i].CustomerID = f.register(h)
		billed[i].InvoiceID, err = domain.NewInvoiceID(commands.DeriveUUID(run.ID.UUID(), billed[i].CustomerID.String()))
		require.NoError(t, err)
	}
	res, err := h.RecordCustomersInvoiced(ctx, f.meta, period, []commands.BilledInvoice{billed[0], billed[1], billed[0]})
	require.NoError(t, err)
	assert.Len(t, res.Events, 2)
	res, err = h.RecordCustomersInvoiced(ctx, f.meta, period, []commands.BilledInvoice{billed[1], billed[2], billed[2]})
	require.NoError(t, err)
	assert.Len(t, res.Events, 1)
	run, version, err := h.BillingRun(ctx, f.meta.Tenant, period)
	require.NoError(t, err)
	assert.Len(t, run.Invoiced, 3)
	assert.Equal(t, uint64(4), version, "started, then three records")
}
