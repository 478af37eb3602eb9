package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

func entryLines(t *testing.T, e domain.Event) []domain.JournalLine {
	t.Helper()
	entry, ok, err := domain.Postings(e)
	if err != nil || !ok {
		t.Fatalf("Postings(%s) = ok %t, %v", e.EventType(), ok, err)
	}
	return entry.Lines()
}

func assertLines(t *testing.T, got []domain.JournalLine, want ...domain.JournalLine) {
	t.Helper()
	if !equal(got, want) {
		t.Fatalf("\n got %+v\nwant %+v", got, want)
	}
}

var (
	dr = domain.Debit
	cr = domain.Credit
)

// taxedInvoice is a history with invoice 1: 79.99 + 29.99 at 20% = 109.98 + 22.00 = 131.98.
func taxedInvoice(extra ...step) []domain.Event {
	return history(steps(registered(), invoiceIssuedOn(1, "2026-01-02",
		taxedLineIn(1, "Broadband", "1", "79.99", "0.2"), taxedLineIn(2, "Phone", "1", "29.99", "0.2")), extra)...)
}

func last(events []domain.Event) domain.Event { return events[len(events)-1] }

func TestPostingsInvoiceIssued(t *testing.T) {
	assertLines(t, entryLines(t, last(taxedInvoice())),
		dr(domain.AccountReceivable, usd("131.98")), cr(domain.AccountServiceRevenue, usd("109.98")), cr(domain.AccountTaxPayable, usd("22.00")))
	withCredit := history(steps(registered(), []step{on("2026-01-01", recordPayment(1, "30"))},
		invoiceIssuedOn(1, "2026-01-02", taxedLineIn(1, "Broadband", "1", "79.99", "0.2")))...)
	entry, _, _ := domain.Postings(last(withCredit))
	if entry.Date() != date("2026-01-02") || entry.Memo() != "InvoiceIssued INV-0001" || entry.Customer() != alice {
		t.Errorf("entry %v %q", entry.Date(), entry.Memo())
	}
	assertLines(t, entry.Lines(),
		dr(domain.AccountReceivable, usd("95.99")), cr(domain.AccountServiceRevenue, usd("79.99")), cr(domain.AccountTaxPayable, usd("16.00")),
		dr(domain.AccountCustomerCredit, usd("30.00")), cr(domain.AccountReceivable, usd("30.00")))
}

// A void posts the exact reversal of the entry it voids.
func TestPostingsVoidIsTheExactReversal(t *testing.T) {
	events := taxedInvoice(on("2026-01-05", domain.VoidInvoice{InvoiceID: invoiceID(1), Reason: "error"}))
	issued, _, _ := domain.Postings(events[len(events)-2])
	voided, ok, err := domain.Postings(last(events))
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	assertLines(t, voided.Lines(), issued.Reversal(date("2026-01-05"), "").Lines()...)
	if voided.Memo() != "InvoiceVoided INV-0001" || voided.Date() != date("2026-01-05") {
		t.Errorf("void entry %q %v", voided.Memo(), voided.Date())
	}
}

func TestPostingsPaymentsRefundsCreditNotes(t *testing.T) {
	events := taxedInvoice(
		on("2026-01-03", recordPayment(1, "150")),
		on("2026-01-04", domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("8.02"), Reason: "overpaid"}),
		on("2026-01-05", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: usd("10"), TaxRate: rate("0.2"), Reason: "outage"}),
	)
	n := len(events)
	assertLines(t, entryLines(t, events[n-3]),
		dr(domain.AccountCash, usd("150")), cr(domain.AccountReceivable, usd("131.98")), cr(domain.AccountCustomerCredit, usd("18.02")))
	assertLines(t, entryLines(t, events[n-2]), dr(domain.AccountCustomerCredit, usd("8.02")), cr(domain.AccountCash, usd("8.02")))
	assertLines(t, entryLines(t, events[n-1]),
		dr(domain.AccountRevenueContra, usd("10")), dr(domain.AccountTaxPayable, usd("2")), cr(domain.AccountCustomerCredit, usd("12")))

	againstInvoice := taxedInvoice(on("2026-01-05", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), InvoiceID: invoiceID(1), Net: usd("10"), TaxRate: rate("0.2"), Reason: "outage"}))
	assertLines(t, entryLines(t, last(againstInvoice)),
		dr(domain.AccountRevenueContra, usd("10")), dr(domain.AccountTaxPayable, usd("2")), cr(domain.AccountReceivable, usd("12")))
}

// A negative amount posts on the other side: an invoice whose credit line carries more tax
// than its charge line debits tax payable.
func TestPostingsFlipNegativeAmounts(t *testing.T) {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02",
		taxedLineIn(1, "Broadband, tax exempt", "1", "100", "0"), taxedLineIn(2, "Discount", "1", "-10", "0.2")))...)
	assertLines(t, entryLines(t, last(events)),
		dr(domain.AccountReceivable, usd("88")), cr(domain.AccountServiceRevenue, usd("90")), dr(domain.AccountTaxPayable, usd("2")))
}

func TestPostingsOfOtherEvents(t *testing.T) {
	for _, e := range domain.AllEvents() {
		switch e.(type) {
		case domain.InvoiceIssued, domain.InvoiceVoided, domain.PaymentRecorded, domain.PaymentRefunded, domain.CreditNoteIssued:
			continue
		}
		if _, ok, err := domain.Postings(e); ok || err != nil {
			t.Errorf("%s posts: ok %t, %v", e.EventType(), ok, err)
		}
	}
}

// An event whose amounts do not add up (a corrupt or hand-made one) cannot post.
func TestPostingsOfACorruptEvent(t *testing.T) {
	e := eventAs[domain.InvoiceIssued](last(taxedInvoice()))
	e.Total = usd("131.99")
	if _, ok, err := domain.Postings(e); ok || err == nil {
		t.Fatalf("ok %t, err %v", ok, err)
	}
	p := domain.PaymentRecorded{CustomerID: alice, Amount: usd("10"), Unapplied: usd("9"), ReceivedAt: time.Now()}
	var unbalanced *domain.UnbalancedEntryError
	if _, _, err := domain.Postings(p); !asError(err, &unbalanced) {
		t.Fatalf("got %v", err)
	}
}

// The auditors' invariants over one customer's journal: it nets to zero, and AR − credit is
// the balance the account reports.
func TestLedgerTotals(t *testing.T) {
	events := taxedInvoice(
		on("2026-01-03", recordPayment(1, "150")),
		on("2026-01-04", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: usd("10"), TaxRate: rate("0.2"), Reason: "outage"}),
		on("2026-01-06", createInvoice(2, lineIn(9, "Install", "50"))),
		on("2026-01-06", issueInvoice(2, "2026-01-20")),
	)
	var totals domain.LedgerTotals
	for _, e := range events {
		if entry, ok, err := domain.Postings(e); err != nil {
			t.Fatal(err)
		} else if ok {
			totals.Post(entry)
		}
	}
	a := must(domain.FoldAccount(events))
	if !totals.Net(usdCurrency).IsZero() || !totals.CustomerBalance(usdCurrency).Equal(must(a.Balance())) {
		t.Fatalf("net %s, journal balance %s, account balance %s", totals.Net(usdCurrency), totals.CustomerBalance(usdCurrency), must(a.Balance()))
	}
	if !totals.Balance(domain.AccountCash, usdCurrency).Equal(usd("150")) || len(totals.Currencies()) != 1 {
		t.Fatalf("cash %s", totals.Balance(domain.AccountCash, usdCurrency))
	}
}

// A zero-total invoice (a free month) is paid the moment it is issued.
func TestZeroTotalInvoiceIsPaidAtIssue(t *testing.T) {
	events := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Free month", "0")))...)
	a := must(domain.FoldAccount(events))
	if inv := a.Invoices[invoiceID(1)]; inv.Status != domain.InvoiceStatusPaid {
		t.Fatalf("got %s", inv)
	}
	if _, ok, err := domain.Postings(events[len(events)-1]); ok || err != nil {
		t.Fatalf("a zero invoice posts nothing: ok=%t err=%v", ok, err)
	}
}

// BenchmarkPostings derives the entries audit verify and the journal derive for most events:
// an issued invoice and a payment allocated to it.
//
//	go test -run '^$' -bench Postings -benchmem ./domain/
func BenchmarkPostings(b *testing.B) {
	evs := []domain.Event{last(taxedInvoice()), paymentRecorded(1, "131.98", "0", allocation(1, "131.98"))}
	var totals domain.LedgerTotals
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range evs {
			entry, ok, err := domain.Postings(e)
			if err != nil || !ok {
				b.Fatal(ok, err)
			}
			totals.Post(entry)
		}
	}
}
