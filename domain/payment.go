package domain

import (
	"time"
)

// PaymentMethod is how money reached the ISP. The zero PaymentMethod is invalid.
type PaymentMethod struct {
	s string
}

// The payment methods.
var (
	PaymentMethodCard         = PaymentMethod{"card"}
	PaymentMethodBankTransfer = PaymentMethod{"bank_transfer"}
	PaymentMethodDirectDebit  = PaymentMethod{"direct_debit"}
	PaymentMethodCash         = PaymentMethod{"cash"}
	PaymentMethodMobileMoney  = PaymentMethod{"mobile_money"}
)

// paymentMethods are the payment methods; a payment slot names its method by its index here
// (paymentSlot.method - 1).
var paymentMethods = [...]PaymentMethod{PaymentMethodCard, PaymentMethodBankTransfer, PaymentMethodDirectDebit, PaymentMethodCash, PaymentMethodMobileMoney}

// ParsePaymentMethod returns the method named s (card, bank_transfer, direct_debit, cash,
// mobile_money), or an *InvalidValueError.
func ParsePaymentMethod(s string) (PaymentMethod, error) {
	for _, m := range paymentMethods {
		if m.s == s {
			return m, nil
		}
	}
	return PaymentMethod{}, invalid("payment method", s, "want card, bank_transfer, direct_debit, cash or mobile_money")
}

// String returns the method name.
func (m PaymentMethod) String() string { return m.s }

// IsZero reports whether m is the zero (invalid) method.
func (m PaymentMethod) IsZero() bool { return m.s == "" }

// MarshalJSON encodes the method name, and the zero method as null.
func (m PaymentMethod) MarshalJSON() ([]byte, error) { return marshalNullable(m.s, m.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero method.
func (m *PaymentMethod) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, m, ParsePaymentMethod)
}

// PaymentState is one payment inside the Account. Build it only by folding.
type PaymentState struct {
	ID                PaymentID
	Amount            Money
	Method            PaymentMethod
	ExternalReference string
	ReceivedAt        time.Time
	Allocations       []Allocation
	Unapplied         Money
	Refunded          Money
	// Refundable is Amount - Refunded: the most a further refund may be.
	Refundable Money
}

// RecordPayment records money received. It settles open invoices oldest first; what is left
// becomes customer credit. A payment cannot target a void (or draft, or paid) invoice: only
// open invoices receive allocations.
//
// Errors: *AlreadyExistsError for a taken payment id or a repeated (method, external
// reference); *CurrencyMismatchError unless in the billing currency; *InvalidValueError for
// a non-positive amount, missing method or a received_at in the future.
type RecordPayment struct {
	PaymentID         PaymentID
	Amount            Money
	Method            PaymentMethod
	ExternalReference string
	ReceivedAt        time.Time
	// Receipt, when set, is the unallocated receipt this payment allocates: the money comes
	// from unallocated receipts (2300) instead of cash.
	Receipt ReceiptID
}

// RefundPayment pays part or all of a payment back out of customer credit.
//
// Errors: *NotFoundError; *RefundExceedsPaymentError; *RefundExceedsCreditError;
// *CurrencyMismatchError; *InvalidValueError.
type RefundPayment struct {
	PaymentID PaymentID
	Amount    Money
	Reason    string
}

func decideRecordPayment(a AccountState, cmd RecordPayment, now time.Time) ([]Event, error) {
	if err := checkRecordPayment(a, cmd, now); err != nil {
		return nil, err
	}
	allocations, unapplied := allocateOldestFirst(a.OpenInvoices(), cmd.Amount)
	return []Event{PaymentRecorded{
		CustomerID: a.Customer.ID, PaymentID: cmd.PaymentID, Amount: cmd.Amount, Method: cmd.Method,
		ExternalReference: cmd.ExternalReference, ReceivedAt: cmd.ReceivedAt.UTC(),
		Allocations: allocations, Unapplied: unapplied, RecordedAt: now.UTC(), ReceiptID: cmd.Receipt,
	}}, nil
}

func checkRecordPayment(a AccountState, cmd RecordPayment, now time.Time) error {
	if err := firstError(
		checkID(cmd.PaymentID),
		checkAmount("payment amount", cmd.Amount, a.Customer.Currency, false),
		checkText("external reference", cmd.ExternalReference, MaxExternalReferenceBytes, false),
	); err != nil {
		return err
	}
	switch {
	case cmd.Method.IsZero():
		return invalid("payment method", "", "missing")
	case cmd.ReceivedAt.IsZero() || cmd.ReceivedAt.After(now):
		return invalid("received at", cmd.ReceivedAt.UTC().Format(time.RFC3339), "missing or in the future")
	}
	if a.payments.has(cmd.PaymentID) {
		return &AlreadyExistsError{Entity: "payment", ID: cmd.PaymentID.String()}
	}
	if _, taken := a.PaymentWithReference(cmd.Method, cmd.ExternalReference); taken {
		return &AlreadyExistsError{Entity: "payment with " + cmd.Method.String() + " reference", ID: cmd.ExternalReference}
	}
	return nil
}

// allocateOldestFirst spreads amount over the open invoices in the order given (oldest
// first), each up to its outstanding amount, and returns what is left. All amounts are in
// amount's currency (the account's, which Apply guarantees for every invoice).
func allocateOldestFirst(open []InvoiceState, amount Money) ([]Allocation, Money) {
	allocations := []Allocation{}
	left := amount
	for _, inv := range open {
		take, err := minMoney(left, inv.Outstanding)
		if err != nil || !take.IsPositive() {
			break
		}
		allocations = append(allocations, Allocation{InvoiceID: inv.ID, Amount: take})
		left, _ = left.Sub(take) // take is in left's currency: minMoney checked
	}
	return allocations, left
}

func decideRefundPayment(a AccountState, cmd RefundPayment, now time.Time) ([]Event, error) {
	p, ok := a.payments.get(cmd.PaymentID)
	if !ok {
		return nil, &NotFoundError{Entity: "payment", ID: cmd.PaymentID.String()}
	}
	if err := firstError(
		checkAmount("refund amount", cmd.Amount, a.Customer.Currency, false),
		checkText("reason", cmd.Reason, MaxReasonRunes, true),
	); err != nil {
		return nil, err
	}
	if c, err := cmd.Amount.Cmp(p.Refundable); err != nil || c > 0 {
		return nil, &RefundExceedsPaymentError{Payment: p.ID, Requested: cmd.Amount, Refundable: p.Refundable}
	}
	if c, err := cmd.Amount.Cmp(a.Credit); err != nil || c > 0 {
		return nil, &RefundExceedsCreditError{Customer: a.Customer.ID, Requested: cmd.Amount, Available: a.Credit}
	}
	return []Event{PaymentRefunded{
		CustomerID: a.Customer.ID, PaymentID: p.ID, Amount: cmd.Amount, Reason: cmd.Reason, RefundedAt: now.UTC(),
	}}, nil
}

// applyPayment folds a payment event onto one payment.
func applyPayment(p PaymentState, e Event) (PaymentState, error) {
	switch e := e.(type) {
	case PaymentRecorded:
		if !p.ID.IsZero() {
			return p, invariantf("payment %s recorded twice", p.ID)
		}
		return PaymentState{
			ID: e.PaymentID, Amount: e.Amount, Method: e.Method, ExternalReference: e.ExternalReference,
			ReceivedAt: e.ReceivedAt, Allocations: e.Allocations, Unapplied: e.Unapplied,
			Refunded: Zero(e.Amount.Currency()), Refundable: e.Amount,
		}, nil
	case PaymentRefunded:
		refundable, err := p.Refundable.Sub(e.Amount)
		if err != nil || refundable.IsNegative() || !e.Amount.IsPositive() {
			return p, invariantf("payment %s: refund of %s with %s refundable", p.ID, e.Amount, p.Refundable)
		}
		p.Refundable = refundable
		p.Refunded, err = p.Refunded.Add(e.Amount)
		return p, err
	}
	return p, invariantf("%s is not a payment event", e.EventType())
}
