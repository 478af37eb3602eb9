package domain_test

import (
	"strings"
	"testing"

	"github.com/dotmac/ledger/domain"
)

var usdCurrency = currency("USD")

func TestCreateInvoice(t *testing.T) {
	tooMany := make([]domain.LineInput, domain.MaxInvoiceLines+1)
	for i := range tooMany {
		tooMany[i] = lineIn(i, "Usage", "1")
	}
	euroLine := lineIn(1, "Broadband", "79.99")
	euroLine.UnitPrice = money("79.99", "EUR")
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "a draft computes each line's net and tax, rounded half-up",
			given: history(registered()...),
			when:  createInvoice(1, taxedLineIn(1, "Broadband", "1", "79.99", "0.20"), taxedLineIn(2, "Static IP", "2", "2.50", "0.075")),
			then: []domain.Event{domain.InvoiceCreated{
				CustomerID: alice, InvoiceID: invoiceID(1), Currency: usdCurrency, CreatedAt: t0,
				Lines: []domain.InvoiceLine{
					wantLine(1, "Broadband", "1", "79.99", "79.99", "0.2", "16.00"), // 15.998 → 16.00
					wantLine(2, "Static IP", "2", "2.50", "5.00", "0.075", "0.38"),  // 0.375 → 0.38
				},
			}},
		},
		{
			name:  "a draft may start empty",
			given: history(registered()...),
			when:  createInvoice(1),
			then:  []domain.Event{domain.InvoiceCreated{CustomerID: alice, InvoiceID: invoiceID(1), Currency: usdCurrency, Lines: []domain.InvoiceLine{}, CreatedAt: t0}},
		},
		{
			name:    "a line in another currency than the customer's is refused",
			given:   history(registered()...),
			when:    createInvoice(1, euroLine),
			wantErr: &domain.CurrencyMismatchError{Want: usdCurrency, Got: currency("EUR")},
		},
		{
			name:    "at most MaxInvoiceLines lines",
			given:   history(registered()...),
			when:    createInvoice(1, tooMany...),
			wantErr: &domain.TooManyLinesError{Invoice: invoiceID(1), Limit: domain.MaxInvoiceLines},
		},
		{
			name:    "line ids are unique within an invoice",
			given:   history(registered()...),
			when:    createInvoice(1, lineIn(1, "Broadband", "79.99"), lineIn(1, "Phone", "29.99")),
			wantErr: &domain.AlreadyExistsError{Entity: "invoice line", ID: lineID(1).String()},
		},
		{
			name:    "invoice ids are unique within the account",
			given:   history(steps(registered(), []step{on("2026-01-02", createInvoice(1))})...),
			when:    createInvoice(1),
			wantErr: &domain.AlreadyExistsError{Entity: "invoice", ID: invoiceID(1).String()},
		},
		{
			name:    "a line needs a description",
			given:   history(registered()...),
			when:    createInvoice(1, lineIn(1, "", "1")),
			wantErr: &domain.InvalidValueError{Field: "description", Value: "", Reason: "required"},
		},
		{
			name:    "a line needs a quantity",
			given:   history(registered()...),
			when:    createInvoice(1, domain.LineInput{LineID: lineID(1), Description: "x", UnitPrice: usd("1")}),
			wantErr: &domain.InvalidValueError{Field: "quantity", Value: "", Reason: "missing"},
		},
		{
			name:    "amounts in commands stay below 10^12",
			given:   history(registered()...),
			when:    createInvoice(1, lineIn(1, "Too much", "1000000000000")),
			wantErr: &domain.InvalidValueError{Field: "unit price", Value: "1000000000000.00", Reason: "must be below 10^12"},
		},
		{
			name:  "an invoice needs an id",
			given: history(registered()...), when: domain.CreateInvoice{},
			wantErr: &domain.InvalidValueError{Field: "invoice id", Value: "", Reason: "missing"},
		},
	})
}

func TestAddInvoiceLine(t *testing.T) {
	draft := steps(registered(), []step{on("2026-01-02", createInvoice(1, lineIn(1, "Broadband", "79.99")))})
	issued := steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")))
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "a line is added to a draft",
			given: history(draft...),
			when:  domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: lineIn(2, "Phone", "29.99")},
			then: []domain.Event{domain.InvoiceLineAdded{
				CustomerID: alice, InvoiceID: invoiceID(1), Line: wantLine(2, "Phone", "1", "29.99", "29.99", "0", "0.00"), AddedAt: t0,
			}},
		},
		{
			name:    "no changing an issued invoice",
			given:   history(issued...),
			when:    domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: lineIn(2, "Phone", "29.99")},
			wantErr: &domain.InvalidTransitionError{Entity: "invoice", ID: invoiceID(1).String(), From: "issued", To: "edited"},
		},
		{
			name:    "a line id cannot repeat",
			given:   history(draft...),
			when:    domain.AddInvoiceLine{InvoiceID: invoiceID(1), Line: lineIn(1, "Phone", "29.99")},
			wantErr: &domain.AlreadyExistsError{Entity: "invoice line", ID: lineID(1).String()},
		},
		{
			name:    "an unknown invoice",
			given:   history(registered()...),
			when:    domain.AddInvoiceLine{InvoiceID: invoiceID(9), Line: lineIn(1, "Phone", "29.99")},
			wantErr: &domain.NotFoundError{Entity: "invoice", ID: invoiceID(9).String()},
		},
	})
}

// Worked example: broadband 79.99 plus phone 29.99 is a monthly charge of 109.98.
func TestIssueInvoice(t *testing.T) {
	draft := steps(registered(), []step{on("2026-01-02", createInvoice(1, broadbandAndPhone()...))})
	issuedEvent := domain.InvoiceIssued{InvoiceIssuedHead: domain.InvoiceIssuedHead{
		CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", IssueDate: date("2026-01-10"),
		DueDate: date("2026-01-24"), Currency: usdCurrency,
		NetTotal: usd("109.98"), TaxTotal: usd("0"), Total: usd("109.98"), CreditApplied: usd("0"), IssuedAt: t0,
	}, Lines: []domain.InvoiceLine{
		wantLine(1, "Broadband", "1", "79.99", "79.99", "0", "0.00"),
		wantLine(2, "Phone", "1", "29.99", "29.99", "0", "0.00"),
	}}
	runAccount(t, []scenario[domain.AccountCommand]{
		{name: "issue makes the draft final with its totals", given: history(draft...), when: issueInvoice(1, "2026-01-24"), then: []domain.Event{issuedEvent}},
		{
			name:    "no issuing an empty invoice",
			given:   history(steps(registered(), []step{on("2026-01-02", createInvoice(1))})...),
			when:    issueInvoice(1, "2026-01-24"),
			wantErr: &domain.EmptyInvoiceError{Invoice: invoiceID(1)},
		},
		{
			name:    "no issuing twice",
			given:   history(steps(draft, []step{on("2026-01-03", issueInvoice(1, "2026-01-24"))})...),
			when:    issueInvoice(1, "2026-01-24"),
			wantErr: &domain.InvalidTransitionError{Entity: "invoice", ID: invoiceID(1).String(), From: "issued", To: "issued"},
		},
		{
			name:    "the due date is not before the issue date",
			given:   history(draft...),
			when:    issueInvoice(1, "2026-01-09"),
			wantErr: &domain.DueBeforeIssueError{Invoice: invoiceID(1), IssueDate: date("2026-01-10"), DueDate: date("2026-01-09")},
		},
		{
			name:    "a due date is required",
			given:   history(draft...),
			when:    domain.IssueInvoice{InvoiceID: invoiceID(1), Number: "INV-1"},
			wantErr: &domain.InvalidValueError{Field: "due date", Value: "", Reason: "missing"},
		},
		{
			name:    "the number must be well formed",
			given:   history(draft...),
			when:    domain.IssueInvoice{InvoiceID: invoiceID(1), Number: "INV 1", DueDate: date("2026-01-24")},
			wantErr: &domain.InvalidValueError{Field: "invoice number", Value: "INV 1", Reason: "want 1-64 of A-Z a-z 0-9 / . _ -"},
		},
		{
			name: "the number is unique in the account",
			given: history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
				[]step{on("2026-01-03", createInvoice(2, lineIn(2, "Phone", "29.99")))})...),
			when:    domain.IssueInvoice{InvoiceID: invoiceID(2), Number: "INV-0001", DueDate: date("2026-01-24")},
			wantErr: &domain.DuplicateInvoiceNumberError{Number: "INV-0001", Invoice: invoiceID(1)},
		},
		{
			name:    "an invoice cannot total below zero",
			given:   history(steps(registered(), []step{on("2026-01-02", createInvoice(1, lineIn(1, "Goodwill", "-5")))})...),
			when:    issueInvoice(1, "2026-01-24"),
			wantErr: &domain.NegativeTotalError{Invoice: invoiceID(1), Total: usd("-5")},
		},
	})
}

// An overpayment becomes customer credit, which settles the next invoice when it is issued.
func TestCustomerCreditSettlesTheNextInvoice(t *testing.T) {
	withCredit := func(amount string) []domain.Event {
		return history(steps(registered(), []step{
			on("2026-01-02", recordPayment(1, amount)),
			on("2026-01-03", createInvoice(1, broadbandAndPhone()...)),
		})...)
	}
	issued := func(applied string) domain.InvoiceIssued {
		return domain.InvoiceIssued{InvoiceIssuedHead: domain.InvoiceIssuedHead{
			CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", IssueDate: date("2026-01-10"),
			DueDate: date("2026-01-24"), Currency: usdCurrency,
			NetTotal: usd("109.98"), TaxTotal: usd("0"), Total: usd("109.98"), CreditApplied: usd(applied), IssuedAt: t0,
		}, Lines: []domain.InvoiceLine{
			wantLine(1, "Broadband", "1", "79.99", "79.99", "0", "0.00"),
			wantLine(2, "Phone", "1", "29.99", "29.99", "0", "0.00"),
		}}
	}
	runAccount(t, []scenario[domain.AccountCommand]{
		{name: "credit smaller than the invoice settles part of it", given: withCredit("30"), when: issueInvoice(1, "2026-01-24"), then: []domain.Event{issued("30.00")}},
		{name: "credit larger than the invoice settles all of it", given: withCredit("200"), when: issueInvoice(1, "2026-01-24"), then: []domain.Event{issued("109.98")}},
	})
	partly := must(domain.FoldAccount(append(withCredit("30"), issued("30.00"))))
	if inv := partly.Invoices[invoiceID(1)]; inv.Status != domain.InvoiceStatusPartiallyPaid || !inv.Outstanding.Equal(usd("79.98")) || !partly.Credit.Equal(usd("0")) {
		t.Errorf("partly settled: %s, credit %s", inv, partly.Credit)
	}
	fully := must(domain.FoldAccount(append(withCredit("200"), issued("109.98"))))
	if inv := fully.Invoices[invoiceID(1)]; inv.Status != domain.InvoiceStatusPaid || !fully.Credit.Equal(usd("90.02")) {
		t.Errorf("fully settled: %s, credit %s", inv, fully.Credit)
	}
}

func TestVoidInvoice(t *testing.T) {
	issued := steps(registered(), invoiceIssuedOn(1, "2026-01-02", broadbandAndPhone()...))
	void := domain.VoidInvoice{InvoiceID: invoiceID(1), Reason: "issued in error"}
	transition := func(from string) error {
		return &domain.InvalidTransitionError{Entity: "invoice", ID: invoiceID(1).String(), From: from, To: "void"}
	}
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "an issued invoice with nothing settled can be voided; the event carries the amounts it reverses",
			given: history(issued...),
			when:  void,
			then: []domain.Event{domain.InvoiceVoided{
				CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", NetTotal: usd("109.98"),
				TaxTotal: usd("0"), Total: usd("109.98"), Reason: "issued in error", VoidedAt: t0,
			}},
		},
		{
			name:  "an overdue invoice can be voided",
			given: history(steps(issued, []step{on("2026-01-20", domain.MarkInvoiceOverdue{InvoiceID: invoiceID(1)})})...),
			when:  void, now: at("2026-01-21"),
			then: []domain.Event{domain.InvoiceVoided{
				CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", NetTotal: usd("109.98"),
				TaxTotal: usd("0"), Total: usd("109.98"), Reason: "issued in error", VoidedAt: at("2026-01-21"),
			}},
		},
		{name: "not once partly paid: a credit note is the tool", given: history(steps(issued, []step{on("2026-01-03", recordPayment(1, "10"))})...), when: void, wantErr: transition("partially_paid")},
		{name: "not once paid", given: history(steps(issued, []step{on("2026-01-03", recordPayment(1, "109.98"))})...), when: void, wantErr: transition("paid")},
		{name: "not a draft", given: history(steps(registered(), []step{on("2026-01-02", createInvoice(1))})...), when: void, wantErr: transition("draft")},
		{name: "not twice", given: history(steps(issued, []step{on("2026-01-03", void)})...), when: void, wantErr: transition("void")},
		{name: "a reason is required", given: history(issued...), when: domain.VoidInvoice{InvoiceID: invoiceID(1)}, wantErr: domain.ErrInvalid},
	})
}

func TestMarkInvoiceOverdue(t *testing.T) {
	// Issued 2026-01-01, due 2026-01-15.
	issued := steps(registered(), invoiceIssuedOn(1, "2026-01-01", broadbandAndPhone()...))
	mark := domain.MarkInvoiceOverdue{InvoiceID: invoiceID(1)}
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "not on the due date itself",
			given: history(issued...),
			when:  mark, now: at("2026-01-15"),
			wantErr: &domain.NotYetDueError{Invoice: invoiceID(1), DueDate: date("2026-01-15"), Today: date("2026-01-15")},
		},
		{
			name:  "from the day after the due date",
			given: history(issued...),
			when:  mark, now: at("2026-01-16"),
			then: []domain.Event{domain.InvoiceMarkedOverdue{
				CustomerID: alice, InvoiceID: invoiceID(1), Number: "INV-0001", DueDate: date("2026-01-15"),
				Outstanding: usd("109.98"), MarkedAt: at("2026-01-16"),
			}},
		},
		{
			name:  "not twice",
			given: history(steps(issued, []step{on("2026-01-16", mark)})...),
			when:  mark, now: at("2026-01-17"),
			wantErr: &domain.InvalidTransitionError{Entity: "invoice", ID: invoiceID(1).String(), From: "issued", To: "overdue"},
		},
		{
			name:  "not once paid",
			given: history(steps(issued, []step{on("2026-01-02", recordPayment(1, "109.98"))})...),
			when:  mark, now: at("2026-01-16"),
			wantErr: &domain.InvalidTransitionError{Entity: "invoice", ID: invoiceID(1).String(), From: "paid", To: "overdue"},
		},
	})
}

// draft → issued → partially_paid → paid, with overdue as a flag payments still settle.
func TestInvoiceLifecycle(t *testing.T) {
	var events []domain.Event
	status := func(want domain.InvoiceStatus, outstanding string, overdue bool) {
		t.Helper()
		a := must(domain.FoldAccount(events))
		inv := a.Invoices[invoiceID(1)]
		if inv.Status != want || !inv.Outstanding.Equal(usd(outstanding)) || inv.Overdue != overdue {
			t.Fatalf("got %s overdue=%t, want %s outstanding %s overdue=%t", inv, inv.Overdue, want, outstanding, overdue)
		}
	}
	do := func(day string, cmd domain.AccountCommand) {
		t.Helper()
		a := must(domain.FoldAccount(events))
		got, err := domain.DecideAccount(a, cmd, at(day))
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, got...)
	}
	do("2026-01-01", registerAlice())
	do("2026-01-01", createInvoice(1, broadbandAndPhone()...))
	status(domain.InvoiceStatusDraft, "0", false)
	do("2026-01-01", issueInvoice(1, "2026-01-15"))
	status(domain.InvoiceStatusIssued, "109.98", false)
	do("2026-01-20", domain.MarkInvoiceOverdue{InvoiceID: invoiceID(1)})
	status(domain.InvoiceStatusIssued, "109.98", true)
	do("2026-01-21", domain.RecordPayment{PaymentID: paymentID(1), Amount: usd("100"), Method: domain.PaymentMethodBankTransfer, ReceivedAt: at("2026-01-21")})
	status(domain.InvoiceStatusPartiallyPaid, "9.98", true)
	do("2026-01-22", domain.RecordPayment{PaymentID: paymentID(2), Amount: usd("9.98"), Method: domain.PaymentMethodCash, ReceivedAt: at("2026-01-22")})
	status(domain.InvoiceStatusPaid, "0", true)
	if a := must(domain.FoldAccount(events)); len(a.OpenInvoices()) != 0 || !strings.Contains(a.Invoices[invoiceID(1)].String(), "paid") {
		t.Fatal("a paid invoice is not open")
	}
}
