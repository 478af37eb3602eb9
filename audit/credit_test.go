package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// An account an earlier version wrote, with an account credit note that settled nothing, is
// listed by a deep verification until ApplyCustomerCredit settles its open invoice.
func TestVerifyDeepListsCreditBesideOpenInvoices(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)

	tenant := must(domain.ParseTenantID("acme"))
	customer := must(domain.NewCustomerID(uuid.Must(uuid.NewV7())))
	stream := domain.CustomerStream(tenant, customer)
	now := time.Date(2026, 1, 2, 9, 0, 0, 0, time.UTC)
	var a domain.AccountState
	var version uint64
	appendEvents := func(evs ...domain.Event) {
		t.Helper()
		for _, e := range evs {
			a, err = domain.ApplyAccount(a, e)
			require.NoError(t, err)
		}
		data, err := codec.Encode(eventstore.Metadata{TenantID: "acme", Actor: "test", RecordedAt: now}, evs...)
		require.NoError(t, err)
		_, err = store.Append(ctx, stream, eventstore.Exact(version), data...)
		require.NoError(t, err)
		version += uint64(len(evs))
	}
	decide := func(cmd domain.AccountCommand) []domain.Event {
		t.Helper()
		now = now.Add(time.Hour)
		return must(domain.DecideAccount(a, cmd, now))
	}
	appendEvents(decide(domain.RegisterCustomer{CustomerID: customer, Contact: domain.Contact{Name: "Ada", Email: "ada@example.org",
		BillingAddress: "1 Main St"}, Currency: must(domain.ParseCurrency("USD"))})...)
	invoice := must(domain.NewInvoiceID(uuid.Must(uuid.NewV7())))
	appendEvents(decide(domain.CreateInvoice{InvoiceID: invoice, Lines: []domain.LineInput{{LineID: must(domain.NewLineID(uuid.Must(uuid.NewV7()))),
		Description: "Router", Quantity: must(domain.ParseQuantity("1")), UnitPrice: must(domain.ParseMoney("50.00", "USD"))}}})...)
	appendEvents(decide(domain.IssueInvoice{InvoiceID: invoice, Number: "A-1", DueDate: domain.DateOf(now).AddDays(14)})...)
	// As an earlier version decided it: all 20.00 customer credit, no allocations.
	legacy := decide(domain.IssueCreditNote{CreditNoteID: must(domain.NewCreditNoteID(uuid.Must(uuid.NewV7()))), Net: must(domain.ParseMoney("20.00", "USD")), Reason: "outage"})
	note, ok := legacy[0].(domain.CreditNoteIssued)
	require.True(t, ok)
	note.Allocations = nil
	appendEvents(note)

	deep := audit.VerifyOptions{DensePositions: true, Deep: true}
	r, err := audit.New(store).Verify(ctx, deep)
	require.NoError(t, err)
	assert.False(t, r.OK)
	require.Len(t, r.Findings, 1, "%v", r.Findings)
	assert.Equal(t, audit.FindingCreditBesideOpen, r.Findings[0].Kind)
	assert.Equal(t, stream, r.Findings[0].Stream)
	assert.Equal(t, "20.00 USD", r.Findings[0].Stored)
	assert.Contains(t, r.Checks, "no customer credit beside open invoices")
	shallow, err := audit.New(store).Verify(ctx, audit.VerifyOptions{DensePositions: true})
	require.NoError(t, err)
	assert.True(t, shallow.OK, "only a deep verification folds the accounts: %v", shallow.Findings)

	applied := decide(domain.ApplyCustomerCredit{})
	require.Len(t, applied, 1)
	appendEvents(applied...)
	assert.Equal(t, "30.00", a.Invoices[invoice].Outstanding.AmountString())
	r, err = audit.New(store).Verify(ctx, deep)
	require.NoError(t, err)
	assert.True(t, r.OK, "findings: %v", r.Findings)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
