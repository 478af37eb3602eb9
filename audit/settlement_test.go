package audit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
)

// Back-dated settlements, through the real event store: a credit note against the account
// dated before the invoice it settles, a payment received before the invoice it settles, and
// an opening balance settled by credit that arose after its as-of date. As of every date in
// between, audit as-of (customer and trial balance) gives AR and customer credit that are
// not negative and whose difference is the balance, and so do copies of the journal and the
// balances as of that date (projections rebuild --as-of DATE).
func TestAsOfSplitsBackDatedSettlementsByDate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	tenant := must(domain.ParseTenantID("acme"))
	usd := func(s string) domain.Money { return must(domain.ParseMoney(s, "USD")) }
	day := func(s string) domain.Date { return must(domain.ParseDate(s)) }
	id := func() uuid.UUID { return uuid.Must(uuid.NewV7()) }

	// account appends the decisions of one customer's commands, each recorded at its time.
	type account struct {
		id      domain.CustomerID
		state   domain.AccountState
		version uint64
	}
	decide := func(a *account, recorded string, cmd domain.AccountCommand) {
		t.Helper()
		now := day(recorded).Time().Add(9 * time.Hour)
		evs := must(domain.DecideAccount(a.state, cmd, now))
		for _, e := range evs {
			a.state = must(domain.ApplyAccount(a.state, e))
		}
		data, err := codec.Encode(eventstore.Metadata{TenantID: "acme", Actor: "test", RecordedAt: now}, evs...)
		require.NoError(t, err)
		_, err = store.Append(ctx, domain.CustomerStream(tenant, a.id), eventstore.Exact(a.version), data...)
		require.NoError(t, err)
		a.version += uint64(len(evs))
	}
	open := func(name string) *account {
		a := &account{id: must(domain.NewCustomerID(id()))}
		decide(a, "2026-01-01", domain.RegisterCustomer{CustomerID: a.id, Contact: domain.Contact{Name: name, Email: "x@example.org",
			BillingAddress: "1 Main St"}, Currency: must(domain.ParseCurrency("USD"))})
		return a
	}
	issue := func(a *account, recorded, issued, price string) {
		inv := must(domain.NewInvoiceID(id()))
		decide(a, recorded, domain.CreateInvoice{InvoiceID: inv, Lines: []domain.LineInput{{LineID: must(domain.NewLineID(id())),
			Description: "Broadband", Quantity: must(domain.ParseQuantity("1")), UnitPrice: usd(price)}}})
		decide(a, recorded, domain.IssueInvoice{InvoiceID: inv, Number: "INV-" + inv.String()[:8], IssueDate: day(issued), DueDate: day(issued).AddDays(14)})
	}

	// A credit note of 30.00 dated 02-01, recorded 02-15, settles the invoice issued 02-10.
	noted := open("Noted")
	issue(noted, "2026-02-10", "2026-02-10", "30.00")
	decide(noted, "2026-02-15", domain.IssueCreditNote{CreditNoteID: must(domain.NewCreditNoteID(id())), Net: usd("30.00"),
		Reason: "outage", IssuedOn: day("2026-02-01")})
	// A payment of 50.00 received 02-01, recorded 02-15, settles the invoice issued 02-10.
	paid := open("Paid")
	issue(paid, "2026-02-10", "2026-02-10", "30.00")
	decide(paid, "2026-02-15", domain.RecordPayment{PaymentID: must(domain.NewPaymentID(id())), Amount: usd("50.00"),
		Method: domain.PaymentMethodBankTransfer, ReceivedAt: day("2026-02-01").Time()})
	// Credit of 50.00 received 02-01 settles an opening balance of 30.00 as of 01-01, recorded
	// 02-15.
	opened := open("Opened")
	decide(opened, "2026-02-01", domain.RecordPayment{PaymentID: must(domain.NewPaymentID(id())), Amount: usd("50.00"),
		Method: domain.PaymentMethodBankTransfer, ReceivedAt: day("2026-02-01").Time()})
	decide(opened, "2026-02-15", domain.RecordOpeningBalance{InvoiceID: must(domain.NewInvoiceID(id())), Amount: usd("30.00"), AsOf: day("2026-01-01")})

	a := audit.New(store)
	rt := projectiontest.Start(t, pool, store, []projections.Projection{readmodel.Journal{}, readmodel.Balances{}}, projections.Options{MaxCopies: 20})
	type want struct{ receivable, credit string }
	for _, tc := range []struct {
		date                string
		noted, paid, opened want
	}{
		{"2026-01-01", want{"0.00", "0.00"}, want{"0.00", "0.00"}, want{"30.00", "0.00"}},
		{"2026-02-01", want{"0.00", "30.00"}, want{"0.00", "50.00"}, want{"0.00", "20.00"}},
		{"2026-02-09", want{"0.00", "30.00"}, want{"0.00", "50.00"}, want{"0.00", "20.00"}},
		{"2026-02-10", want{"0.00", "0.00"}, want{"0.00", "20.00"}, want{"0.00", "20.00"}},
		{"2026-02-15", want{"0.00", "0.00"}, want{"0.00", "20.00"}, want{"0.00", "20.00"}},
	} {
		cutoff := audit.Cutoff{Date: day(tc.date).Time()}
		asOf, err := projections.ParseAsOf(tc.date)
		require.NoError(t, err)
		schema := "settled_" + strings.ReplaceAll(tc.date, "-", "_")
		journal, balances := schema+"_journal", schema+"_balances"
		t.Cleanup(func() {
			_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+journal+`, `+balances+` CASCADE`)
		})
		_, err = rt.Rebuild(ctx, readmodel.NameJournal, projections.RebuildOptions{AsOf: &asOf, Into: journal})
		require.NoError(t, err, tc.date)
		_, err = rt.Rebuild(ctx, readmodel.NameBalances, projections.RebuildOptions{AsOf: &asOf, Into: balances})
		require.NoError(t, err, tc.date)
		checkTrialBalance(ctx, t, a, pool, journal, "acme", cutoff.Date)
		var receivable, credit decimal.Decimal
		for _, c := range []struct {
			acc  *account
			want want
		}{{noted, tc.noted}, {paid, tc.paid}, {opened, tc.opened}} {
			got, err := a.CustomerAsOf(ctx, tenant, c.acc.id, cutoff)
			require.NoError(t, err)
			assert.Equal(t, c.want, want{got.Receivable, got.Credit}, "%s as of %s", got.Name, tc.date)
			var copied want
			require.NoError(t, pool.QueryRow(ctx, `SELECT receivable::text, credit::text FROM `+balances+`.customer_balances WHERE customer_id = $1`,
				c.acc.id.String()).Scan(&copied.receivable, &copied.credit))
			assert.Equal(t, c.want, copied, "%s as of %s: the balances copy", got.Name, tc.date)
			assert.True(t, decimal.RequireFromString(got.Receivable).Sub(decimal.RequireFromString(got.Credit)).Equal(decimal.RequireFromString(got.Balance)),
				"%s as of %s: AR %s − credit %s is not the balance %s", got.Name, tc.date, got.Receivable, got.Credit, got.Balance)
			receivable = receivable.Add(decimal.RequireFromString(c.want.receivable))
			credit = credit.Add(decimal.RequireFromString(c.want.credit))
		}
		tb, err := a.TrialBalanceAsOf(ctx, tenant, cutoff)
		require.NoError(t, err)
		assert.True(t, tb.Balanced)
		assert.Equal(t, receivable.StringFixed(2), signedBalance(tb, 1100).StringFixed(2), "trial balance AR as of %s", tc.date)
		assert.Equal(t, credit.Neg().StringFixed(2), signedBalance(tb, 2200).StringFixed(2), "trial balance customer credit as of %s", tc.date)
	}
	r, err := a.Verify(ctx, audit.VerifyOptions{DensePositions: true, Deep: true})
	require.NoError(t, err)
	assert.True(t, r.OK, "%v", r.Findings)
	assert.Contains(t, r.Checks, "AR and customer credit not negative at any date")

	// A void dated before the invoice it voids (a hand-made event: the domain dates a void the
	// day it is sent) leaves AR negative in between: a deep verification lists it.
	voided := open("Voided")
	inv := must(domain.NewInvoiceID(id()))
	decide(voided, "2026-03-10", domain.CreateInvoice{InvoiceID: inv, Lines: []domain.LineInput{{LineID: must(domain.NewLineID(id())),
		Description: "Router", Quantity: must(domain.ParseQuantity("1")), UnitPrice: usd("40.00")}}})
	decide(voided, "2026-03-10", domain.IssueInvoice{InvoiceID: inv, Number: "V-1", DueDate: day("2026-03-24")})
	void := must(domain.DecideAccount(voided.state, domain.VoidInvoice{InvoiceID: inv, Reason: "error"}, day("2026-03-11").Time()))
	require.Len(t, void, 1)
	e, ok := void[0].(domain.InvoiceVoided)
	require.True(t, ok)
	e.VoidedAt = day("2026-03-01").Time()
	data, err := codec.Encode(eventstore.Metadata{TenantID: "acme", Actor: "test", RecordedAt: day("2026-03-11").Time()}, e)
	require.NoError(t, err)
	_, err = store.Append(ctx, domain.CustomerStream(tenant, voided.id), eventstore.Exact(voided.version), data...)
	require.NoError(t, err)
	r, err = a.Verify(ctx, audit.VerifyOptions{DensePositions: true, Deep: true})
	require.NoError(t, err)
	require.Len(t, r.Findings, 1, "%v", r.Findings)
	assert.Equal(t, audit.FindingNegativeByDate, r.Findings[0].Kind)
	assert.Equal(t, domain.CustomerStream(tenant, voided.id), r.Findings[0].Stream)
	assert.Equal(t, "AR -40.00, customer credit 0.00", r.Findings[0].Stored)
}
