package domain_test

import (
	"testing"

	"github.com/dotmac/ledger/domain"
)

// legacyCredit is an account as an earlier version wrote it: invoices 1 (30.00) and 2 (20.00)
// open, and a 40.00 credit note against the account without allocations, all customer credit.
func legacyCredit() []domain.Event {
	before := history(steps(registered(),
		invoiceIssuedOn(1, "2026-01-02", lineIn(1, "January", "30.00")),
		invoiceIssuedOn(2, "2026-01-03", lineIn(2, "Router", "20.00")))...)
	return append(before, domain.CreditNoteIssued{CustomerID: alice, CreditNoteID: creditNoteID(1), Net: usd("40.00"),
		Tax: usd("0.00"), Total: usd("40.00"), Reason: "goodwill", IssuedAt: at("2026-01-04"), IssuedOn: date("2026-01-04")})
}

// checkBooks requires the journal of events to net to zero with AR − credit the balance.
func checkBooks(t *testing.T, events []domain.Event) domain.AccountState {
	t.Helper()
	a := must(domain.FoldAccount(events))
	var totals domain.LedgerTotals
	for _, e := range events {
		if entry, ok, err := domain.Postings(e); err != nil {
			t.Fatal(err)
		} else if ok {
			totals.Post(entry)
		}
	}
	if !totals.Net(usdCurrency).IsZero() || !totals.CustomerBalance(usdCurrency).Equal(must(a.Balance())) {
		t.Fatalf("journal nets to %s; AR − credit %s, balance %s", totals.Net(usdCurrency), totals.CustomerBalance(usdCurrency), must(a.Balance()))
	}
	return a
}

func TestApplyCustomerCreditRepairsLegacyAccounts(t *testing.T) {
	events := legacyCredit()
	a := checkBooks(t, events)
	if !a.CreditBesideOpenInvoices() {
		t.Fatalf("credit %s beside %d open invoices is not reported", a.Credit, len(a.OpenInvoices()))
	}
	evs := must(domain.DecideAccount(a, domain.ApplyCustomerCredit{}, at("2026-02-01")))
	want := domain.CustomerCreditApplied{CustomerID: alice, Allocations: []domain.Allocation{allocation(1, "30.00"), allocation(2, "10.00")},
		Amount: usd("40.00"), AppliedOn: date("2026-02-01"), AppliedAt: at("2026-02-01")}
	if len(evs) != 1 || !equal(evs[0], want) {
		t.Fatalf("got %+v, want %+v", evs, want)
	}
	entry, _, _ := domain.Postings(evs[0])
	if !equal(entry.Lines(), []domain.JournalLine{domain.Debit(domain.AccountCustomerCredit, usd("40.00")), domain.Credit(domain.AccountReceivable, usd("40.00"))}) {
		t.Errorf("entry %+v", entry.Lines())
	}
	events = append(events, evs...)
	a = checkBooks(t, events)
	if !a.Credit.IsZero() || a.CreditBesideOpenInvoices() || a.Invoices[invoiceID(1)].Status != domain.InvoiceStatusPaid ||
		a.Invoices[invoiceID(2)].Status != domain.InvoiceStatusPartiallyPaid || !a.Invoices[invoiceID(2)].Outstanding.Equal(usd("10.00")) ||
		!a.Invoices[invoiceID(2)].Settled.Equal(usd("10.00")) {
		t.Fatalf("credit %s, %s, %s", a.Credit, a.Invoices[invoiceID(1)], a.Invoices[invoiceID(2)])
	}
	if again := must(domain.DecideAccount(a, domain.ApplyCustomerCredit{}, at("2026-02-02"))); len(again) != 0 {
		t.Errorf("nothing left to settle, yet %+v", again)
	}
	// More credit than is open: what is open is settled, the rest stays credit.
	more := legacyCredit()[:len(legacyCredit())-1]
	more = append(more, domain.CreditNoteIssued{CustomerID: alice, CreditNoteID: creditNoteID(1), Net: usd("70.00"),
		Tax: usd("0.00"), Total: usd("70.00"), Reason: "goodwill", IssuedAt: at("2026-01-04")})
	evs = must(domain.DecideAccount(must(domain.FoldAccount(more)), domain.ApplyCustomerCredit{}, at("2026-02-01")))
	a = checkBooks(t, append(more, evs...))
	if !a.Credit.Equal(usd("20.00")) || len(a.OpenInvoices()) != 0 || !eventAs[domain.CustomerCreditApplied](evs[0]).Amount.Equal(usd("50.00")) {
		t.Errorf("credit %s, open %d, %+v", a.Credit, len(a.OpenInvoices()), evs)
	}
	// No credit, or nothing open: nothing to append.
	for _, events := range [][]domain.Event{history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "January", "30.00")))...),
		history(steps(registered(), []step{on("2026-01-02", recordPayment(1, "5.00"))})...)} {
		if evs := must(domain.DecideAccount(must(domain.FoldAccount(events)), domain.ApplyCustomerCredit{}, at("2026-02-01"))); len(evs) != 0 {
			t.Errorf("nothing to settle, yet %+v", evs)
		}
	}
}

func TestCustomerCreditAppliedFoldRefusesBadEvents(t *testing.T) {
	events := legacyCredit()
	for name, e := range map[string]domain.CustomerCreditApplied{
		"more than the credit": {CustomerID: alice, Allocations: []domain.Allocation{allocation(1, "30.00"), allocation(2, "20.00")}, Amount: usd("50.00")},
		"not the sum":          {CustomerID: alice, Allocations: []domain.Allocation{allocation(1, "30.00")}, Amount: usd("31.00")},
		"beyond the invoice":   {CustomerID: alice, Allocations: []domain.Allocation{allocation(2, "21.00")}, Amount: usd("21.00")},
		"zero":                 {CustomerID: alice, Amount: usd("0")},
		"a zero allocation":    {CustomerID: alice, Allocations: []domain.Allocation{allocation(1, "0"), allocation(2, "5.00")}, Amount: usd("5.00")},
	} {
		if _, err := domain.FoldAccount(append(events, e)); err == nil {
			t.Errorf("%s: folded", name)
		}
	}
}

// An opening balance settles against what the account already holds, as a payment would.
func TestOpeningBalanceSettlesCreditAndOpenInvoices(t *testing.T) {
	t.Run("owed to the customer, with invoices open", func(t *testing.T) {
		given := history(steps(registered(), invoiceIssuedOn(1, "2026-01-05", lineIn(1, "January", "30.00")))...)
		evs := must(domain.DecideAccount(must(domain.FoldAccount(given)),
			domain.RecordOpeningBalance{Amount: usd("-12.00"), AsOf: date("2025-12-31")}, at("2026-01-10")))
		if len(evs) != 2 {
			t.Fatalf("%+v", evs)
		}
		applied := eventAs[domain.CustomerCreditApplied](evs[1])
		// Dated the day invoice 1 was issued: the credit could not settle it before it existed.
		if !equal(applied.Allocations, []domain.Allocation{allocation(1, "12.00")}) || applied.AppliedOn != date("2026-01-05") {
			t.Errorf("%+v", applied)
		}
		a := checkBooks(t, append(given, evs...))
		if !a.Credit.IsZero() || !a.Invoices[invoiceID(1)].Outstanding.Equal(usd("18.00")) || !must(a.Balance()).Equal(usd("18.00")) {
			t.Errorf("credit %s, %s", a.Credit, a.Invoices[invoiceID(1)])
		}
	})
	t.Run("owed by the customer, with credit held", func(t *testing.T) {
		given := history(steps(registered(), []step{on("2026-01-02", recordPayment(1, "50.00"))})...)
		evs := must(domain.DecideAccount(must(domain.FoldAccount(given)),
			domain.RecordOpeningBalance{InvoiceID: invoiceID(9), Amount: usd("80.00"), AsOf: date("2025-12-31")}, at("2026-01-10")))
		if len(evs) != 2 {
			t.Fatalf("%+v", evs)
		}
		applied := eventAs[domain.CustomerCreditApplied](evs[1])
		if !equal(applied.Allocations, []domain.Allocation{allocation(9, "50.00")}) || applied.AppliedOn != date("2025-12-31") {
			t.Errorf("%+v", applied)
		}
		a := checkBooks(t, append(given, evs...))
		if !a.Credit.IsZero() || a.Invoices[invoiceID(9)].Status != domain.InvoiceStatusPartiallyPaid || !must(a.Balance()).Equal(usd("30.00")) {
			t.Errorf("credit %s, %s", a.Credit, a.Invoices[invoiceID(9)])
		}
	})
	t.Run("nothing to settle: the opening balance alone", func(t *testing.T) {
		evs := must(domain.DecideAccount(must(domain.FoldAccount(history(registered()...))),
			domain.RecordOpeningBalance{Amount: usd("-12.00"), AsOf: date("2025-12-31")}, at("2026-01-10")))
		if len(evs) != 1 {
			t.Errorf("%+v", evs)
		}
	})
}
