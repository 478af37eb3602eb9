package readapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
	"github.com/dotmac/ledger/readapi"
)

// decode reads a 200's body into T.
func decode[T any](t testing.TB, r resp) T {
	t.Helper()
	var v T
	require.NoError(t, json.Unmarshal(r.Body, &v), string(r.Body))
	return v
}

func usd(amount string) readapi.Money { return readapi.Money{Amount: amount, Currency: "USD"} }

type page[T any] struct {
	Items      []T     `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func TestCustomerEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	r := e.ok(tok, "/v1/customers/"+id(102))
	assert.Equal(t, "43", r.Header.Get("X-Ledger-Position"))
	c := decode[readapi.Customer](t, r)
	reason, at := "moved", "2026-03-11T09:00:00Z"
	assert.Equal(t, readapi.Customer{CustomerID: id(102), Name: "Bob Ode", Email: "x@acme.example", Phone: "+1 555 0100",
		BillingAddress: "1 Main St", Currency: "USD", Status: "deactivated", RegisteredAt: "2026-01-02T09:00:00Z",
		UpdatedAt: at, DeactivatedAt: &at, DeactivationReason: &reason}, c)
	list := decode[page[readapi.Customer]](t, e.ok(tok, "/v1/customers"))
	assert.Equal(t, []string{id(101), id(102)}, customerIDs(list.Items))
	assert.Nil(t, list.NextCursor)
	list = decode[page[readapi.Customer]](t, e.ok(tok, "/v1/customers?status=active"))
	assert.Equal(t, []string{id(101)}, customerIDs(list.Items))
	for q, want := range map[string][]string{"ode": {id(102)}, "ALICE@new": {id(101)}, "%": {}, "carol": {}} {
		list = decode[page[readapi.Customer]](t, e.ok(tok, "/v1/customers?q="+url.QueryEscape(q)))
		assert.Equal(t, want, customerIDs(list.Items), "q=%s: name or email, ignoring case, this tenant's only", q)
	}
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/customers?q="+strings.Repeat("x", 101)).Status)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/customers/"+id(999)).Status)
}

func customerIDs(cs []readapi.Customer) []string {
	out := []string{}
	for _, c := range cs {
		out = append(out, c.CustomerID)
	}
	return out
}

func TestBalanceAndStatement(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "ledger:read")
	last := "2026-02-05"
	assert.Equal(t, readapi.CustomerBalance{CustomerID: id(101), Balances: []readapi.Balance{{Currency: "USD",
		Receivable: usd("89.63"), Credit: usd("0.00"), Balance: usd("89.63"), LastActivity: &last}}},
		decode[readapi.CustomerBalance](t, e.ok(tok, "/v1/customers/"+id(101)+"/balance")))
	st := decode[page[readapi.StatementLine]](t, e.ok(tok, "/v1/customers/"+id(102)+"/statement"))
	type line struct{ date, typ, debit, credit, after string }
	var got []line
	for _, l := range st.Items {
		got = append(got, line{l.Date, l.EventType, l.Debit.Amount, l.Credit.Amount, l.BalanceAfter.Amount})
	}
	assert.Equal(t, []line{
		{"2026-01-12", "InvoiceIssued", "50.00", "0.00", "50.00"},
		{"2026-01-13", "InvoiceIssued", "20.00", "0.00", "70.00"},
		{"2026-01-14", "InvoiceVoided", "0.00", "20.00", "50.00"},
		{"2026-01-20", "PaymentRecorded", "0.00", "20.00", "30.00"},
		{"2026-01-28", "CreditNoteIssued", "0.00", "10.00", "20.00"},
		{"2026-02-01", "InvoiceIssued", "74.83", "0.00", "94.83"},
		{"2026-02-10", "PaymentRecorded", "0.00", "94.83", "0.00"},
	}, got)
	assert.Equal(t, id(205), st.Items[5].DocumentID)
	assert.Equal(t, "Invoice R-2", st.Items[5].Description)
	ranged := decode[page[readapi.StatementLine]](t, e.ok(tok, "/v1/customers/"+id(102)+"/statement?from=2026-01-14&to=2026-01-28"))
	assert.Len(t, ranged.Items, 3)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/customers/"+id(999)+"/balance").Status)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/customers/"+id(999)+"/statement").Status)
	// A 3-decimal currency keeps its three decimals.
	bhd := decode[readapi.CustomerBalance](t, e.ok(e.token("globex"), "/v1/customers/"+id(103)+"/balance"))
	assert.Equal(t, readapi.Money{Amount: "12.345", Currency: "BHD"}, bhd.Balances[0].Balance)
}

func TestCatalogEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	p := decode[readapi.Plan](t, e.ok(tok, "/v1/plans/voice"))
	assert.Equal(t, readapi.Plan{PlanCode: "voice", Name: "Home phone", MonthlyPrice: usd("29.99"), TaxClass: "telecom",
		TaxRate: "0.075", BillWhileSuspended: true, Status: "active", DefinedAt: "2026-01-01T09:02:00Z"}, p)
	plans := decode[page[readapi.Plan]](t, e.ok(tok, "/v1/plans?status=retired"))
	require.Len(t, plans.Items, 1)
	assert.Equal(t, "fiber_100", plans.Items[0].PlanCode)
	s := decode[readapi.Service](t, e.ok(tok, "/v1/services/"+id(602)))
	assert.Equal(t, "terminated", s.Status)
	assert.Equal(t, "2026-03-31", *s.TerminatedOn)
	assert.Equal(t, "2026-01-03", *s.BillingStartsOn)
	assert.Equal(t, readapi.ServicePlan{Code: "fiber_100", Name: "Fiber 100", MonthlyPrice: usd("79.99"), TaxRate: "0"}, s.Plan)
	for query, want := range map[string][]string{
		"":                        {id(601), id(602)},
		"?customer_id=" + id(101): {id(601)},
		"?status=terminated":      {id(602)},
		"?plan=fiber_500":         {id(601)},
		"?plan=voice":             {},
		"?status=active&plan=fiber_500&customer_id=" + id(101): {id(601)},
	} {
		got := decode[page[readapi.Service]](t, e.ok(tok, "/v1/services"+query))
		ids := []string{}
		for _, s := range got.Items {
			ids = append(ids, s.ServiceID)
		}
		assert.Equal(t, want, ids, query)
	}
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/plans/nope").Status)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/services/"+id(999)).Status)
}

func TestInvoiceEndpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "invoices:read")
	d := decode[readapi.InvoiceDetail](t, e.ok(tok, "/v1/invoices/"+id(202)))
	assert.Equal(t, "paid", d.Status)
	assert.Equal(t, usd("40.00"), d.AmountPaid)
	assert.Equal(t, usd("10.00"), d.AmountCredited)
	assert.Equal(t, usd("0.00"), d.Outstanding)
	assert.False(t, d.Overdue, "paid: no longer overdue")
	require.NotNil(t, d.MarkedOverdueAt)
	require.Len(t, d.Lines, 1)
	assert.Equal(t, readapi.InvoiceLine{LineNo: 1, LineID: id(521), Description: "Installation", Quantity: "1",
		UnitPrice: usd("50.00"), Net: usd("50.00"), TaxRate: "0", Tax: usd("0.00")}, d.Lines[0])
	assert.Equal(t, []readapi.InvoiceAllocation{
		{PaymentID: id(302), Amount: usd("20.00"), ReceivedAt: "2026-01-20T08:00:00Z"},
		{PaymentID: id(303), Amount: usd("20.00"), ReceivedAt: "2026-02-10T08:00:00Z"},
	}, d.Allocations)
	require.Len(t, d.CreditNotes, 1)
	assert.Equal(t, usd("10.00"), d.CreditNotes[0].Total)
	assert.Equal(t, usd("10.00"), d.CreditNotes[0].Amount, "a credit note against the invoice settles it by its total")
	assert.Equal(t, new(id(202)), d.CreditNotes[0].InvoiceID)
	assert.NotNil(t, d.CreditApplications, "an empty list, not null")
	assert.Empty(t, d.CreditApplications)

	r := decode[readapi.InvoiceDetail](t, e.ok(tok, "/v1/invoices/"+id(204)))
	require.Len(t, r.Lines, 2, "one line per plan segment")
	assert.Equal(t, &readapi.Proration{DaysBilled: 16, DaysInPeriod: 31, FullPrice: usd("119.99")}, r.Lines[1].Proration)
	assert.Equal(t, usd("38.70"), r.Lines[0].Net)
	from, through := "2026-01-16", "2026-01-31"
	assert.Equal(t, &from, r.Lines[1].From)
	assert.Equal(t, &through, r.Lines[1].Through)
	assert.Empty(t, r.Allocations)
	assert.NotNil(t, r.Allocations, "an empty list, not null")
	// The goodwill credit note 402 is against alice's account: it settled 6.00 of R-1.
	assert.Equal(t, []readapi.InvoiceCreditNote{{CreditNote: readapi.CreditNote{CreditNoteID: id(402), Net: usd("5.00"),
		TaxRate: "0.2", Tax: usd("1.00"), Total: usd("6.00"), Reason: "goodwill", IssuedAt: "2026-02-05T09:00:00Z"},
		Amount: usd("6.00")}}, r.CreditNotes)
	assert.Equal(t, usd("6.00"), r.AmountCredited)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/invoices/"+id(999)).Status)

	pay := e.token("acme", "payments:read")
	cn := decode[readapi.CreditNoteDetail](t, e.ok(pay, "/v1/credit-notes/"+id(402)))
	assert.Equal(t, usd("6.00"), cn.Total)
	assert.Equal(t, "2026-02-05", cn.IssuedOn)
	assert.NotNil(t, cn.Lines, "an empty list, not null")
	assert.Empty(t, cn.Lines, "a goodwill credit note has no lines")
	assert.Nil(t, cn.InvoiceID, "against the account")
	assert.Equal(t, []readapi.CreditNoteAllocation{{InvoiceID: id(204), Amount: usd("6.00")}}, cn.Allocations)
	assert.Equal(t, usd("0.00"), cn.Unapplied)
	against := decode[readapi.CreditNoteDetail](t, e.ok(pay, "/v1/credit-notes/"+id(401)))
	assert.NotNil(t, against.Allocations, "an empty list, not null")
	assert.Empty(t, against.Allocations, "a credit note against an invoice has no allocations")
	assert.Equal(t, usd("0.00"), against.Unapplied)
	assert.Equal(t, http.StatusNotFound, e.get(e.token("globex", "payments:read"), "/v1/credit-notes/"+id(402)).Status,
		"another tenant's credit note is not found")
}

func TestInvoiceFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	for query, want := range map[string][]string{
		"/v1/invoices":                                            {id(201), id(202), id(203), id(204), id(205)},
		"/v1/invoices?customer_id=" + id(102):                     {id(202), id(203), id(205)},
		"/v1/invoices?status=paid":                                {id(201), id(202), id(205)},
		"/v1/invoices?status=void":                                {id(203)},
		"/v1/invoices?status=partially_paid":                      {id(204)},
		"/v1/invoices?overdue=false&status=draft":                 {},
		"/v1/invoices?due_before=2026-01-26":                      {id(201)},
		"/v1/invoices?due_after=2026-01-26":                       {id(203), id(204), id(205)},
		"/v1/invoices?due_after=2026-01-19&due_before=2026-01-27": {id(202)},
		"/v1/invoices?period=2026-01":                             {id(204), id(205)},
		"/v1/customers/" + id(101) + "/invoices":                  {id(201), id(204)},
		"/v1/customers/" + id(101) + "/invoices?status=paid":      {id(201)},
		"/v1/invoices?number=B-0002":                              {id(203)},
		"/v1/invoices?number=B-000":                               {},
		"/v1/customers/" + id(102) + "/invoices?number=A-0001":    {},
		"/v1/payments":                                            {id(301), id(302), id(303)},
		"/v1/payments?customer_id=" + id(101):                     {id(301)},
	} {
		r := e.ok(tok, query)
		var got page[map[string]any]
		require.NoError(t, json.Unmarshal(r.Body, &got))
		ids := []string{}
		for _, it := range got.Items {
			if v, ok := it["invoice_id"]; ok {
				ids = append(ids, fmt.Sprint(v))
			} else {
				ids = append(ids, fmt.Sprint(it["payment_id"]))
			}
		}
		assert.Equal(t, want, ids, query)
	}
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/customers/"+id(999)+"/invoices").Status, "an unknown customer's invoices")
	p := decode[readapi.PaymentDetail](t, e.ok(tok, "/v1/payments/"+id(303)))
	assert.Equal(t, []readapi.PaymentAllocation{{InvoiceID: id(202), Amount: usd("20.00")}, {InvoiceID: id(205), Amount: usd("74.83")}}, p.Allocations)
	assert.Equal(t, "recorded", p.Status)
	assert.Equal(t, http.StatusNotFound, e.get(tok, "/v1/payments/"+id(999)).Status)
}

func TestJournalAndTrialBalance(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "ledger:read")
	all := decode[page[readapi.JournalLine]](t, e.ok(tok, "/v1/journal?limit=500"))
	assert.Len(t, all.Items, 31) // 29 of customers, 2 of the unallocated receipt
	first := all.Items[0]
	assert.Equal(t, readapi.JournalLine{EntryID: e.events[15].ID.String(), Position: 16, LineNo: 1, EventType: "InvoiceIssued",
		Date: "2026-01-05", Account: 1100, AccountName: "Accounts receivable", Debit: usd("90.00"), Credit: usd("0.00"),
		CustomerID: id(101), Memo: "InvoiceIssued A-0001"}, first)
	for query, want := range map[string]int{
		"?account=2200":                             3, // the 6.00 credit note settles R-1: 1100, not 2200
		"?customer_id=" + id(101):                   15,
		"?customer_id=" + id(101) + "&account=1100": 5,
		"?from=2026-02-01":                          13,
		"?from=2026-01-10&to=2026-01-12":            5,
	} {
		got := decode[page[readapi.JournalLine]](t, e.ok(tok, "/v1/journal"+query))
		assert.Len(t, got.Items, want, query)
	}
	tb := decode[readapi.TrialBalance](t, e.ok(tok, "/v1/trial-balance"))
	assert.Nil(t, tb.AsOfPosition)
	require.Len(t, tb.Accounts, 7)
	assert.Equal(t, readapi.TrialBalanceAccount{Account: 1100, AccountName: "Accounts receivable", Currency: "USD",
		Debit: usd("335.46"), Credit: usd("245.83"), Balance: usd("89.63")}, tb.Accounts[1])
	assert.Equal(t, []readapi.TrialBalanceTotal{{Currency: "USD", Debit: usd("621.29"), Credit: usd("621.29"), Balance: usd("0.00")}}, tb.Totals)
	assert.Equal(t, readapi.TrialBalanceAccount{Account: 2300, AccountName: "Unallocated receipts", Currency: "USD",
		Debit: usd("0.00"), Credit: usd("25.00"), Balance: usd("-25.00")}, tb.Accounts[4])
	asOf := decode[readapi.TrialBalance](t, e.ok(tok, "/v1/trial-balance?as_of_position=17"))
	assert.Equal(t, uint64(17), *asOf.AsOfPosition)
	assert.Equal(t, []readapi.TrialBalanceTotal{{Currency: "USD", Debit: usd("190.00"), Credit: usd("190.00"), Balance: usd("0.00")}}, asOf.Totals)
	// The trial balance as of the last position is the current one.
	latest := decode[readapi.TrialBalance](t, e.ok(tok, "/v1/trial-balance?as_of_position=43"))
	assert.Equal(t, tb.Accounts, latest.Accounts)
}

// The trial balance as of a business date sums the journal lines dated up to it: the same
// lines /v1/journal?to= lists (what the console's drill-down shows).
func TestTrialBalanceAsOfDate(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "ledger:read")
	for _, day := range []string{"2026-01-05", "2026-01-12", "2026-02-15"} {
		tb := decode[readapi.TrialBalance](t, e.ok(tok, "/v1/trial-balance?as_of="+day))
		require.NotNil(t, tb.AsOf)
		assert.Equal(t, day, *tb.AsOf)
		lines := decode[page[readapi.JournalLine]](t, e.ok(tok, "/v1/journal?limit=500&to="+day))
		want := map[int][2]decimal.Decimal{}
		for _, l := range lines.Items {
			s := want[l.Account]
			want[l.Account] = [2]decimal.Decimal{s[0].Add(decimal.RequireFromString(l.Debit.Amount)), s[1].Add(decimal.RequireFromString(l.Credit.Amount))}
		}
		require.Len(t, tb.Accounts, len(want), day)
		for _, a := range tb.Accounts {
			assert.True(t, want[a.Account][0].Equal(decimal.RequireFromString(a.Debit.Amount)), "%s %d debit", day, a.Account)
			assert.True(t, want[a.Account][1].Equal(decimal.RequireFromString(a.Credit.Amount)), "%s %d credit", day, a.Account)
		}
		for _, tot := range tb.Totals {
			assert.True(t, decimal.RequireFromString(tot.Balance.Amount).IsZero(), "%s balances", day)
		}
	}
	none := decode[readapi.TrialBalance](t, e.ok(tok, "/v1/trial-balance?as_of=2025-12-31"))
	assert.Empty(t, none.Accounts, "nothing is dated before the first entry")
	assert.Equal(t, http.StatusBadRequest, e.get(tok, "/v1/trial-balance?as_of=2026-13-01").Status)
}

// An invoice lists every credit note that settled it, against it or against the account (with
// the part that went to it), and the customer credit applied to it after it was issued; a
// credit note against the account lists the invoices it settled and its unapplied rest
// (readmodeltest.CreditFixture).
func TestCreditSettlementEndpoints(t *testing.T) {
	t.Parallel()
	evs, err := readmodeltest.CreditFixture()
	require.NoError(t, err)
	e := newEnv(t, evs)
	tok := e.token("acme", "invoices:read", "payments:read")

	first := decode[readapi.InvoiceDetail](t, e.ok(tok, "/v1/invoices/"+id(211)))
	assert.Equal(t, "paid", first.Status)
	assert.Equal(t, usd("30.00"), first.CreditApplied)
	assert.Empty(t, first.CreditNotes)
	assert.NotNil(t, first.CreditNotes, "an empty list, not null")
	assert.Equal(t, []readapi.CreditApplication{{Amount: usd("30.00"), AppliedOn: "2026-01-06", AppliedAt: "2026-01-07T09:00:00Z"}},
		first.CreditApplications)

	second := decode[readapi.InvoiceDetail](t, e.ok(tok, "/v1/invoices/"+id(212)))
	assert.Equal(t, "paid", second.Status)
	assert.Equal(t, usd("10.00"), second.CreditApplied)
	assert.Equal(t, usd("15.00"), second.AmountCredited)
	assert.Equal(t, []readapi.CreditApplication{{Amount: usd("10.00"), AppliedOn: "2026-01-06", AppliedAt: "2026-01-07T09:00:00Z"}},
		second.CreditApplications)
	assert.Equal(t, []readapi.InvoiceCreditNote{{CreditNote: readapi.CreditNote{CreditNoteID: id(411), Net: usd("20.00"),
		TaxRate: "0", Tax: usd("0.00"), Total: usd("20.00"), Reason: "outage", IssuedAt: "2026-01-08T09:00:00Z"},
		Amount: usd("15.00")}}, second.CreditNotes)

	cn := decode[readapi.CreditNoteDetail](t, e.ok(tok, "/v1/credit-notes/"+id(411)))
	assert.Nil(t, cn.InvoiceID)
	assert.Equal(t, []readapi.CreditNoteAllocation{{InvoiceID: id(212), Amount: usd("15.00")}}, cn.Allocations)
	assert.Equal(t, usd("5.00"), cn.Unapplied, "20.00 less the 15.00 that settled D-2")
	assert.Empty(t, cn.Lines)
}

// While the live build of the invoices read model is of version 2 (before the rebuild for
// version 3 is swapped in), it has no credit note allocations, credit applications nor
// unapplied column: the invoice and credit note answer 503 (retry), not 500.
func TestCreditSettlementBeforeTheSwap(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme", "invoices:read", "payments:read")
	_, err := e.pool.Exec(context.Background(), `DROP TABLE credit_note_allocations, credit_applications;
ALTER TABLE credit_notes DROP COLUMN unapplied`)
	require.NoError(t, err)
	for _, path := range []string{"/v1/invoices/" + id(204), "/v1/credit-notes/" + id(402)} {
		r := e.get(tok, path)
		assert.Equal(t, http.StatusServiceUnavailable, r.Status, path)
		assert.NotEmpty(t, r.Header.Get("Retry-After"), path)
	}
}
