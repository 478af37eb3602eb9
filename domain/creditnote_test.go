package domain_test

import (
	"errors"
	"testing"

	"github.com/dotmac/ledger/domain"
)

func TestIssueCreditNote(t *testing.T) {
	// Invoice 1: broadband 79.99 taxed at 20% = 95.99.
	issued := steps(registered(), invoiceIssuedOn(1, "2026-01-02", taxedLineIn(1, "Broadband", "1", "79.99", "0.2")))
	paid := steps(issued, []step{on("2026-01-03", recordPayment(1, "95.99"))})
	against := func(invoice domain.InvoiceID, net, taxRate string) domain.IssueCreditNote {
		return domain.IssueCreditNote{CreditNoteID: creditNoteID(1), InvoiceID: invoice, Net: usd(net), TaxRate: rate(taxRate), Reason: "outage"}
	}
	issuedNote := func(invoice domain.InvoiceID, net, taxRate, tax, total string) domain.CreditNoteIssued {
		return domain.CreditNoteIssued{
			CustomerID: alice, CreditNoteID: creditNoteID(1), InvoiceID: invoice, Net: usd(net),
			TaxRate: rate(taxRate), Tax: usd(tax), Total: usd(total), Reason: "outage", IssuedAt: t0, IssuedOn: domain.DateOf(t0),
		}
	}
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "against an open invoice: net plus tax off what it owes",
			given: history(issued...),
			when:  against(invoiceID(1), "10.00", "0.2"),
			then:  []domain.Event{issuedNote(invoiceID(1), "10.00", "0.2", "2.00", "12.00")},
		},
		{
			name:    "not more than the invoice still owes",
			given:   history(issued...),
			when:    against(invoiceID(1), "80.00", "0.2"),
			wantErr: &domain.CreditExceedsOutstandingError{Invoice: invoiceID(1), Requested: usd("96.00"), Outstanding: usd("95.99")},
		},
		{
			name:    "not against a paid invoice: credit the account instead",
			given:   history(paid...),
			when:    against(invoiceID(1), "10", "0.2"),
			wantErr: &domain.InvoiceNotOpenError{Invoice: invoiceID(1), Status: domain.InvoiceStatusPaid},
		},
		{
			name:  "against the account: it becomes customer credit",
			given: history(paid...),
			when:  against(domain.InvoiceID{}, "10", "0.2"),
			then:  []domain.Event{issuedNote(domain.InvoiceID{}, "10", "0.2", "2", "12")},
		},
		{
			name:    "an unknown invoice",
			given:   history(issued...),
			when:    against(invoiceID(9), "1", "0"),
			wantErr: &domain.NotFoundError{Entity: "invoice", ID: invoiceID(9).String()},
		},
		{
			name:    "in the customer's currency only",
			given:   history(issued...),
			when:    domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: money("1", "GBP"), Reason: "x"},
			wantErr: &domain.CurrencyMismatchError{Want: usdCurrency, Got: currency("GBP")},
		},
		{
			name:    "a credit note id is used once",
			given:   history(steps(paid, []step{on("2026-01-04", against(domain.InvoiceID{}, "1", "0"))})...),
			when:    against(domain.InvoiceID{}, "1", "0"),
			wantErr: &domain.AlreadyExistsError{Entity: "credit note", ID: creditNoteID(1).String()},
		},
	})
}

// A credit note for the whole outstanding amount settles the invoice; an account credit
// note settles the next invoice issued.
func TestCreditNotesSettle(t *testing.T) {
	events := history(steps(registered(),
		invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		[]step{
			on("2026-01-03", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), InvoiceID: invoiceID(1), Net: usd("79.99"), Reason: "outage"}),
			on("2026-01-04", domain.IssueCreditNote{CreditNoteID: creditNoteID(2), Net: usd("5"), Reason: "goodwill"}),
		},
		invoiceIssuedOn(2, "2026-01-05", lineIn(2, "Phone", "29.99")))...)
	a := must(domain.FoldAccount(events))
	if inv := a.Invoices[invoiceID(1)]; inv.Status != domain.InvoiceStatusPaid || !inv.Credited.Equal(usd("79.99")) {
		t.Errorf("credited invoice: %s", inv)
	}
	if inv := a.Invoices[invoiceID(2)]; inv.Status != domain.InvoiceStatusPartiallyPaid || !inv.Outstanding.Equal(usd("24.99")) {
		t.Errorf("next invoice: %s", inv)
	}
	if !a.Credit.Equal(usd("0")) || len(a.CreditNotes) != 2 || !a.CreditNotes[creditNoteID(2)].InvoiceID.IsZero() {
		t.Errorf("credit %s, notes %+v", a.Credit, a.CreditNotes)
	}
}

// A credit note against the account settles the open invoices oldest first, as a payment
// does, skipping paid and void ones; only what is left becomes customer credit. Its entry
// credits 1100 for what it settles and 2200 for the rest.
func TestAccountCreditNoteSettlesOpenInvoices(t *testing.T) {
	// Invoice 1 (2026-01-02) 30.00, invoice 2 (2026-01-03) 20.00, invoice 3 (2026-01-04) 50.00.
	three := steps(registered(),
		invoiceIssuedOn(1, "2026-01-02", lineIn(1, "January", "30.00")),
		invoiceIssuedOn(2, "2026-01-03", lineIn(2, "Router", "20.00")),
		invoiceIssuedOn(3, "2026-01-04", lineIn(3, "February", "50.00")))
	note := func(n int, net string) domain.IssueCreditNote {
		return domain.IssueCreditNote{CreditNoteID: creditNoteID(n), Net: usd(net), Reason: "goodwill"}
	}
	type invoice struct{ status, outstanding string }
	cases := []struct {
		name        string
		given       []step
		net         string
		allocations []domain.Allocation
		credit      string
		invoices    map[int]invoice
		ar, cr      string // the entry's Cr 1100 and Cr 2200
	}{
		{
			name: "partly settles the oldest", given: three, net: "12.00",
			allocations: []domain.Allocation{allocation(1, "12.00")}, credit: "0",
			invoices: map[int]invoice{1: {"partially_paid", "18.00"}, 2: {"issued", "20.00"}, 3: {"issued", "50.00"}},
			ar:       "12.00", cr: "0",
		},
		{
			name: "settles several, oldest first", given: three, net: "60.00",
			allocations: []domain.Allocation{allocation(1, "30.00"), allocation(2, "20.00"), allocation(3, "10.00")}, credit: "0",
			invoices: map[int]invoice{1: {"paid", "0"}, 2: {"paid", "0"}, 3: {"partially_paid", "40.00"}},
			ar:       "60.00", cr: "0",
		},
		{
			name: "more than everything open: the rest is customer credit", given: three, net: "130.00",
			allocations: []domain.Allocation{allocation(1, "30.00"), allocation(2, "20.00"), allocation(3, "50.00")}, credit: "30.00",
			invoices: map[int]invoice{1: {"paid", "0"}, 2: {"paid", "0"}, 3: {"paid", "0"}},
			ar:       "100.00", cr: "30.00",
		},
		{
			// 35.00 pays invoice 1 and 5.00 of invoice 2; invoice 3 is voided. The note
			// settles the 15.00 left of invoice 2 and skips paid 1 and void 3.
			name: "paid and void invoices are skipped",
			given: steps(three, []step{
				on("2026-01-05", recordPayment(1, "35.00")),
				on("2026-01-05", domain.VoidInvoice{InvoiceID: invoiceID(3), Reason: "duplicate"}),
			}),
			net:         "20.00",
			allocations: []domain.Allocation{allocation(2, "15.00")}, credit: "5.00",
			invoices: map[int]invoice{1: {"paid", "0"}, 2: {"paid", "0"}, 3: {"void", "0"}},
			ar:       "15.00", cr: "5.00",
		},
		{
			name: "nothing open: all customer credit", given: registered(), net: "7.00",
			credit: "7.00", invoices: map[int]invoice{}, ar: "0", cr: "7.00",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := history(tc.given...)
			evs, err := domain.DecideAccount(must(domain.FoldAccount(before)), note(1, tc.net), at("2026-01-06"))
			if err != nil {
				t.Fatal(err)
			}
			e := eventAs[domain.CreditNoteIssued](evs[0])
			if !equal(e.Allocations, tc.allocations) || !e.Unapplied().Equal(usd(tc.credit)) {
				t.Fatalf("allocations %+v, unapplied %s; want %+v, %s", e.Allocations, e.Unapplied(), tc.allocations, tc.credit)
			}
			a := must(domain.FoldAccount(append(before, evs...)))
			if !a.Credit.Equal(usd(tc.credit)) {
				t.Errorf("customer credit %s, want %s", a.Credit, tc.credit)
			}
			for n, want := range tc.invoices {
				if inv := a.Invoices[invoiceID(n)]; inv.Status.String() != want.status || !inv.Outstanding.Equal(usd(want.outstanding)) {
					t.Errorf("%s, want %s with %s outstanding", inv, want.status, want.outstanding)
				}
			}
			entry, _, err := domain.Postings(evs[0])
			if err != nil {
				t.Fatal(err)
			}
			wantLines := []domain.JournalLine{domain.Debit(domain.AccountRevenueContra, usd(tc.net))}
			if !usd(tc.ar).IsZero() {
				wantLines = append(wantLines, domain.Credit(domain.AccountReceivable, usd(tc.ar)))
			}
			if !usd(tc.cr).IsZero() {
				wantLines = append(wantLines, domain.Credit(domain.AccountCustomerCredit, usd(tc.cr)))
			}
			if !equal(entry.Lines(), wantLines) {
				t.Errorf("entry %+v, want %+v", entry.Lines(), wantLines)
			}
			balance, ar := must(a.Balance()), must(a.Receivable())
			if diff := must(ar.Sub(a.Credit)); !diff.Equal(balance) {
				t.Errorf("AR %s − credit %s is not the balance %s", ar, a.Credit, balance)
			}
		})
	}
	t.Run("in the customer's currency only", func(t *testing.T) {
		_, err := domain.DecideAccount(must(domain.FoldAccount(history(three...))),
			domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: money("10", "GBP"), Reason: "x"}, at("2026-01-06"))
		assertError(t, err, &domain.CurrencyMismatchError{Want: usdCurrency, Got: currency("GBP")})
	})
	t.Run("a fold refuses an allocation in another currency or beyond the total", func(t *testing.T) {
		before := history(three...)
		good := eventAs[domain.CreditNoteIssued](must(domain.DecideAccount(must(domain.FoldAccount(before)), note(1, "10.00"), at("2026-01-06")))[0])
		for _, allocations := range [][]domain.Allocation{
			{{InvoiceID: invoiceID(1), Amount: money("10.00", "GBP")}},
			{allocation(1, "11.00")},
			{allocation(1, "0")},
			{allocation(9, "10.00")},
		} {
			bad := good
			bad.Allocations = allocations
			if _, err := domain.FoldAccount(append(before, bad)); !errors.Is(err, domain.ErrInvariant) {
				t.Errorf("%+v: %v", allocations, err)
			}
		}
		withInvoice := good
		withInvoice.InvoiceID = invoiceID(1)
		if _, err := domain.FoldAccount(append(before, withInvoice)); !errors.Is(err, domain.ErrInvariant) {
			t.Errorf("allocations on a credit note against an invoice: %v", err)
		}
	})
}

// A credit note against the account recorded before Allocations existed folds as it did:
// all of it is customer credit, beside the invoice it left open.
func TestAccountCreditNoteWithoutAllocations(t *testing.T) {
	before := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "January", "30.00")))...)
	old := domain.CreditNoteIssued{CustomerID: alice, CreditNoteID: creditNoteID(1), Net: usd("10"), Tax: usd("0"),
		Total: usd("10"), Reason: "goodwill", IssuedAt: at("2026-01-03")}
	a := must(domain.FoldAccount(append(before, old)))
	if !a.Credit.Equal(usd("10")) || !a.Invoices[invoiceID(1)].Outstanding.Equal(usd("30.00")) {
		t.Errorf("credit %s, %s", a.Credit, a.Invoices[invoiceID(1)])
	}
	entry, _, _ := domain.Postings(old)
	if !equal(entry.Lines(), []domain.JournalLine{domain.Debit(domain.AccountRevenueContra, usd("10")), domain.Credit(domain.AccountCustomerCredit, usd("10"))}) {
		t.Errorf("entry %+v", entry.Lines())
	}
}
