package domain_test

import (
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
