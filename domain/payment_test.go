package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

func TestRecordPayment(t *testing.T) {
	// Invoice 1 (79.99) is issued before invoice 2 (29.99): it is the oldest.
	twoOpen := steps(registered(),
		invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		invoiceIssuedOn(2, "2026-01-05", lineIn(2, "Phone", "29.99")))
	voided := steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		[]step{on("2026-01-03", domain.VoidInvoice{InvoiceID: invoiceID(1), Reason: "error"})})
	euro := recordPayment(1, "10")
	euro.Amount = money("10", "EUR")
	future := recordPayment(1, "10")
	future.ReceivedAt = t0.Add(time.Minute)
	zero := recordPayment(1, "0")
	noMethod := recordPayment(1, "10")
	noMethod.Method = domain.PaymentMethod{}
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "a payment settles the oldest open invoice first",
			given: history(twoOpen...),
			when:  recordPayment(1, "90"),
			then:  []domain.Event{paymentRecorded(1, "90", "0.00", allocation(1, "79.99"), allocation(2, "10.01"))},
		},
		{
			name:  "an overpayment becomes customer credit",
			given: history(twoOpen...),
			when:  recordPayment(1, "150"),
			then:  []domain.Event{paymentRecorded(1, "150", "40.02", allocation(1, "79.99"), allocation(2, "29.99"))},
		},
		{
			name:  "with nothing open, all of it is credit",
			given: history(registered()...),
			when:  recordPayment(1, "25"),
			then:  []domain.Event{paymentRecorded(1, "25", "25")},
		},
		{
			name:  "no paying a void invoice: it is not open, so the money becomes credit",
			given: history(voided...),
			when:  recordPayment(1, "79.99"),
			then:  []domain.Event{paymentRecorded(1, "79.99", "79.99")},
		},
		{
			name:    "a payment in another currency than the invoices is refused",
			given:   history(twoOpen...),
			when:    euro,
			wantErr: &domain.CurrencyMismatchError{Want: usdCurrency, Got: currency("EUR")},
		},
		{name: "the amount is positive", given: history(registered()...), when: zero, wantErr: &domain.InvalidValueError{Field: "payment amount", Value: "0.00", Reason: "must be greater than zero"}},
		{name: "a method is required", given: history(registered()...), when: noMethod, wantErr: &domain.InvalidValueError{Field: "payment method", Value: "", Reason: "missing"}},
		{name: "money is not received in the future", given: history(registered()...), when: future, wantErr: domain.ErrInvalid},
		{
			name:    "a payment id is recorded once",
			given:   history(steps(registered(), []step{on("2026-01-02", recordPayment(1, "5"))})...),
			when:    domain.RecordPayment{PaymentID: paymentID(1), Amount: usd("5"), Method: domain.PaymentMethodCash, ReceivedAt: t0},
			wantErr: &domain.AlreadyExistsError{Entity: "payment", ID: paymentID(1).String()},
		},
		{
			name:    "the same bank reference is recorded once",
			given:   history(steps(registered(), []step{on("2026-01-02", recordPayment(1, "5"))})...),
			when:    domain.RecordPayment{PaymentID: paymentID(2), Amount: usd("5"), Method: domain.PaymentMethodCard, ExternalReference: "ch_1", ReceivedAt: t0},
			wantErr: &domain.AlreadyExistsError{Entity: "payment with card reference", ID: "ch_1"},
		},
	})
}

func TestPaymentSettlesInvoices(t *testing.T) {
	events := history(steps(registered(),
		invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		invoiceIssuedOn(2, "2026-01-05", lineIn(2, "Phone", "29.99")),
		[]step{on("2026-01-10", recordPayment(1, "90"))})...)
	a := must(domain.FoldAccount(events))
	if inv := a.Invoices[invoiceID(1)]; inv.Status != domain.InvoiceStatusPaid || !inv.Settled.Equal(usd("79.99")) {
		t.Errorf("oldest: %s", inv)
	}
	if inv := a.Invoices[invoiceID(2)]; inv.Status != domain.InvoiceStatusPartiallyPaid || !inv.Outstanding.Equal(usd("19.98")) {
		t.Errorf("next: %s", inv)
	}
	if bal := must(a.Balance()); !bal.Equal(usd("19.98")) {
		t.Errorf("balance %s", bal)
	}
	if p, _ := a.Payment(paymentID(1)); !p.Refundable.Equal(usd("90")) || len(p.Allocations) != 2 {
		t.Errorf("payment %+v", p)
	}
}

// A refund cannot exceed what was paid (minus what was refunded), nor the customer's credit.
func TestRefundPayment(t *testing.T) {
	overpaid := steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Broadband", "79.99")),
		[]step{on("2026-01-03", recordPayment(1, "100"))}) // 20.01 becomes credit
	refunded := steps(overpaid, []step{on("2026-01-04", domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("15"), Reason: "overpaid"})})
	credited := steps(overpaid, []step{on("2026-01-04", domain.IssueCreditNote{CreditNoteID: creditNoteID(1), Net: usd("100"), Reason: "outage"})})
	runAccount(t, []scenario[domain.AccountCommand]{
		{
			name:  "refund an overpayment",
			given: history(overpaid...),
			when:  domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("20.01"), Reason: "overpaid"},
			then:  []domain.Event{domain.PaymentRefunded{CustomerID: alice, PaymentID: paymentID(1), Amount: usd("20.01"), Reason: "overpaid", RefundedAt: t0}},
		},
		{
			name:    "not more than the customer's credit",
			given:   history(overpaid...),
			when:    domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("20.02"), Reason: "overpaid"},
			wantErr: &domain.RefundExceedsCreditError{Customer: alice, Requested: usd("20.02"), Available: usd("20.01")},
		},
		{
			name:    "not more than was paid",
			given:   history(credited...), // credit is now 120.01, the payment 100
			when:    domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("100.01"), Reason: "overpaid"},
			wantErr: &domain.RefundExceedsPaymentError{Payment: paymentID(1), Requested: usd("100.01"), Refundable: usd("100")},
		},
		{
			name:    "not more than was paid minus earlier refunds",
			given:   history(refunded...),
			when:    domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("85.01"), Reason: "again"},
			wantErr: &domain.RefundExceedsPaymentError{Payment: paymentID(1), Requested: usd("85.01"), Refundable: usd("85")},
		},
		{
			name:    "an unknown payment",
			given:   history(overpaid...),
			when:    domain.RefundPayment{PaymentID: paymentID(9), Amount: usd("1"), Reason: "x"},
			wantErr: &domain.NotFoundError{Entity: "payment", ID: paymentID(9).String()},
		},
		{
			name:    "a reason is required",
			given:   history(overpaid...),
			when:    domain.RefundPayment{PaymentID: paymentID(1), Amount: usd("1")},
			wantErr: &domain.InvalidValueError{Field: "reason", Value: "", Reason: "required"},
		},
	})
}

func TestParsePaymentMethod(t *testing.T) {
	for _, m := range []string{"card", "bank_transfer", "direct_debit", "cash", "mobile_money"} {
		if got, err := domain.ParsePaymentMethod(m); err != nil || got.String() != m || got.IsZero() {
			t.Errorf("%s: %v", m, err)
		}
	}
	if _, err := domain.ParsePaymentMethod("cheque"); err == nil {
		t.Error("cheque accepted")
	}
}
