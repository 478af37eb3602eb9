package commands_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// issuedNumber returns the number of the InvoiceIssued in res.
func issuedNumber(t *testing.T, res commands.Result) string {
	t.Helper()
	for _, e := range res.Events {
		if issued, ok := e.(domain.InvoiceIssued); ok {
			return issued.Number
		}
	}
	t.Fatalf("no InvoiceIssued in %v", res.Events)
	return ""
}

// TestOneCommandIDTwoDecisionsAnswersTheStoredOne: two processes run one command id with
// different inputs on the same version of a stream (each cache holds that version): the
// second's append finds the first's event ids stored, and it is answered with what was stored,
// not with its own decision, whether its decision has as many events (the store takes the
// append as a replay) or more (ErrDuplicateEventID).
func TestOneCommandIDTwoDecisionsAnswersTheStoredOne(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("an invoice issued with another due date", func(t *testing.T) {
		t.Parallel()
		f, newHandlers := newFixture(t)
		a, b := newHandlers(f.store), newHandlers(f.store)
		customer := f.register(a)
		inv, err := a.CreateInvoice(ctx, f.meta, commands.CreateInvoice{CustomerID: customer, Lines: []domain.LineInput{{
			Description: "Router", Quantity: domain.QuantityOne(), UnitPrice: usd(t, "50.00")}}})
		require.NoError(t, err)
		invoice, err := domain.ParseInvoiceID(inv.ID)
		require.NoError(t, err)
		_, _, err = b.Account(ctx, f.meta.Tenant, customer) // b's cache holds the draft too
		require.NoError(t, err)

		m := f.meta
		m.CommandID = uuid.Must(uuid.NewV7())
		today := domain.DateOf(now)
		first, err := a.IssueInvoice(ctx, m, commands.IssueInvoice{CustomerID: customer, InvoiceID: invoice, DueDate: today.AddDays(14)})
		require.NoError(t, err)
		second, err := b.IssueInvoice(ctx, m, commands.IssueInvoice{CustomerID: customer, InvoiceID: invoice, DueDate: today.AddDays(30)})
		require.NoError(t, err)
		assert.Equal(t, issuedNumber(t, first), issuedNumber(t, second), "the number stored, not the one the second took")
		require.Len(t, second.Events, 1)
		issued, ok := second.Events[0].(domain.InvoiceIssued)
		require.True(t, ok)
		assert.Equal(t, today.AddDays(14), issued.DueDate, "the due date stored")
		assert.Equal(t, first.Version, second.Version)
		assert.Equal(t, first.Position, second.Position)
	})

	t.Run("a run-stream record of other customers", func(t *testing.T) {
		t.Parallel()
		f, newHandlers := newFixture(t)
		a, b := newHandlers(f.store), newHandlers(f.store)
		period, err := domain.NewPeriod(2026, time.January)
		require.NoError(t, err)
		_, err = a.StartBillingRun(ctx, f.meta, period)
		require.NoError(t, err)
		_, _, err = b.BillingRun(ctx, f.meta.Tenant, period)
		require.NoError(t, err)
		billed := make([]commands.BilledInvoice, 3)
		for i := range billed {
			billed[i].CustomerID = f.register(a)
			billed[i].InvoiceID, err = domain.NewInvoiceID(uuid.Must(uuid.NewV7()))
			require.NoError(t, err)
		}

		m := f.meta
		m.CommandID = uuid.Must(uuid.NewV7())
		first, err := a.RecordCustomersInvoiced(ctx, m, period, billed[:1])
		require.NoError(t, err)
		second, err := b.RecordCustomersInvoiced(ctx, m, period, billed)
		require.NoError(t, err, "some of its ids stored: answered with what was stored (%v)", eventstore.ErrDuplicateEventID)
		assert.Len(t, second.Events, len(first.Events), "the record stored, not the one never stored")
		assert.Equal(t, first.Events[0].EventType(), second.Events[0].EventType())
		assert.Equal(t, first.Version, second.Version)
		run, _, err := newHandlers(f.store).BillingRun(ctx, f.meta.Tenant, period)
		require.NoError(t, err)
		assert.Len(t, run.Invoiced, 1)
	})
}
