package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

func tenant(t *testing.T) domain.TenantID {
	t.Helper()
	tn, err := domain.ParseTenantID("demo")
	require.NoError(t, err)
	return tn
}

// aCustomer returns the account stream and customer id of a customer with at least one payment.
func aCustomer(t *testing.T, store eventstore.Store) (string, domain.CustomerID) {
	t.Helper()
	envs, err := store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(t, err)
	for _, e := range envs {
		if e.Type == "PaymentRecorded" {
			_, _, key, err := domain.ParseStream(e.StreamID)
			require.NoError(t, err)
			id, err := domain.ParseCustomerID(key)
			require.NoError(t, err)
			return e.StreamID, id
		}
	}
	t.Fatal("no payment in the generated history")
	return "", domain.CustomerID{}
}

func TestHistory(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 10, 4)
	a := audit.New(store)
	ctx := context.Background()
	stream, _ := aCustomer(t, store)
	all, err := a.History(ctx, audit.HistoryQuery{Stream: stream})
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for i, h := range all {
		assert.Equal(t, uint64(i+1), h.Version) //nolint:gosec // small
		assert.Len(t, h.Hash, 64)
		assert.Contains(t, []string{"portal", "billing", "overdue", "dunning"}, h.Actor, "the simulation's actors")
		assert.False(t, h.OccurredAt.IsZero(), h.Type)
	}
	var invoiceID string
	for _, h := range all {
		if h.Type == "InvoiceIssued" {
			invoiceID = jsonField(t, h.Data, "invoice_id")
			break
		}
	}
	inv, err := a.History(ctx, audit.HistoryQuery{Stream: stream, Entity: "invoice_id", EntityID: invoiceID})
	require.NoError(t, err)
	types := []string{}
	for _, h := range inv {
		types = append(types, h.Type)
	}
	assert.Contains(t, types, "InvoiceIssued")
	assert.Less(t, len(inv), len(all))
	_, err = a.History(ctx, audit.HistoryQuery{Stream: "t-demo/customer-0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f"})
	assert.ErrorIs(t, err, audit.ErrNoHistory)
}

func TestAsOf(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 10, 6)
	a := audit.New(store)
	ctx := context.Background()
	stream, id := aCustomer(t, store)

	now, err := a.CustomerAsOf(ctx, tenant(t), id, audit.Cutoff{})
	require.NoError(t, err)
	envs, err := store.ReadStream(ctx, stream, 1, eventstore.Forwards, 10_000)
	require.NoError(t, err)
	assert.Len(t, now.Events, len(envs), "with no cutoff every event is used")

	// As of the position of its third event, exactly three events are used.
	third, err := a.CustomerAsOf(ctx, tenant(t), id, audit.Cutoff{Position: envs[2].Position})
	require.NoError(t, err)
	assert.Len(t, third.Events, 3)

	// As of the day before the first event the customer did not exist yet, and nothing of it
	// is dated by then (a history moved over would be: see CalendarFixture's tests).
	first := now.Events[0]
	h, err := a.History(ctx, audit.HistoryQuery{Stream: stream})
	require.NoError(t, err)
	_, err = a.CustomerAsOf(ctx, tenant(t), id, audit.Cutoff{Date: h[0].OccurredAt.AddDate(0, 0, -1)})
	assert.ErrorIs(t, err, audit.ErrNoHistory)
	// Nor has a customer that does not exist.
	nobody, err := domain.NewCustomerID(uuid.Must(uuid.NewV7()))
	require.NoError(t, err)
	_, err = a.CustomerAsOf(ctx, tenant(t), nobody, audit.Cutoff{Date: h[0].OccurredAt})
	assert.ErrorIs(t, err, audit.ErrNoHistory)
	assert.Equal(t, uint64(1), first.Version)

	// The trial balance at the head equals verify's, and balances.
	tb, err := a.TrialBalanceAsOf(ctx, tenant(t), audit.Cutoff{})
	require.NoError(t, err)
	assert.True(t, tb.Balanced)
	assert.Equal(t, verify(t, store).TrialBalance, tb.Lines)
	early, err := a.TrialBalanceAsOf(ctx, tenant(t), audit.Cutoff{Position: envs[2].Position})
	require.NoError(t, err)
	assert.True(t, early.Balanced)
	assert.Less(t, early.Entries, tb.Entries)
}

func TestExport(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 10, 4)
	a := audit.New(store)
	ctx := context.Background()
	period, err := domain.ParsePeriod("2025-02")
	require.NoError(t, err)
	dir := t.TempDir()
	m, err := a.Export(ctx, tenant(t), period, dir)
	require.NoError(t, err)
	require.Len(t, m.Files, 6)
	for _, f := range m.Files {
		if strings.HasPrefix(f.Name, "journal") {
			assert.Positive(t, f.Rows)
		}
	}
	problems, err := audit.CheckExport(dir)
	require.NoError(t, err)
	assert.Empty(t, problems)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 7)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "%s: exports hold customer data", e.Name())
	}

	// The export's journal totals are the trial balance's movement over the period.
	end, err := a.TrialBalanceAsOf(ctx, tenant(t), audit.Cutoff{Date: period.LastDay().Time()})
	require.NoError(t, err)
	before, err := a.TrialBalanceAsOf(ctx, tenant(t), audit.Cutoff{Date: period.Start().AddDays(-1).Time()})
	require.NoError(t, err)
	for _, tot := range m.JournalTotals {
		moved := signedBalance(end, tot.Account).Sub(signedBalance(before, tot.Account))
		got := decimal.RequireFromString(tot.Debit).Sub(decimal.RequireFromString(tot.Credit))
		assert.True(t, moved.Equal(got), "account %d: export %s, trial balance moved %s", tot.Account, got, moved)
	}

	// Change one byte of a file: the check names it.
	path := filepath.Join(dir, "payments.csv")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, append(b, []byte("x,1\n")...), 0o600))
	problems, err = audit.CheckExport(dir)
	require.NoError(t, err)
	require.NotEmpty(t, problems)
	assert.Contains(t, problems[0], "payments.csv")
}

// TestExportOfNothing: an export of a tenant without events, or of a period without money
// movements, writes nothing and says which of the two it is.
func TestExportOfNothing(t *testing.T) {
	t.Parallel()
	store, _ := seeded(t, 2, 2)
	a := audit.New(store)
	ctx := context.Background()
	feb, err := domain.ParsePeriod("2025-02")
	require.NoError(t, err)
	nosuch, err := domain.ParseTenantID("nosuch")
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "out")

	_, err = a.Export(ctx, nosuch, feb, dir)
	var nothing *audit.NothingToExportError
	require.ErrorAs(t, err, &nothing)
	assert.False(t, nothing.TenantHasEvents)
	assert.Contains(t, err.Error(), "no events at all")
	assert.NoDirExists(t, dir)

	old, err := domain.ParsePeriod("1999-01")
	require.NoError(t, err)
	_, err = a.Export(ctx, tenant(t), old, dir)
	require.ErrorAs(t, err, &nothing)
	assert.True(t, nothing.TenantHasEvents)
	assert.Contains(t, err.Error(), "1999-01")
	assert.NoDirExists(t, dir)
}

func signedBalance(tb *audit.TrialBalanceAsOf, account int) decimal.Decimal {
	for _, l := range tb.Lines {
		if l.Account == account {
			return decimal.RequireFromString(l.Balance)
		}
	}
	return decimal.Zero
}
