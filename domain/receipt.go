package domain

import "time"

// ReceiptReason says why money received through a payment provider could not be recorded as a
// customer's payment and waits, as an unallocated receipt, for a person to allocate it. The zero
// ReceiptReason is invalid.
type ReceiptReason struct {
	s string
}

// The receipt reasons.
var (
	// ReceiptUnknownCustomer: the account reference names no customer of the tenant.
	ReceiptUnknownCustomer = ReceiptReason{"unknown_customer"}
	// ReceiptCurrencyMismatch: the customer bills in another currency.
	ReceiptCurrencyMismatch = ReceiptReason{"currency_mismatch"}
)

// ParseReceiptReason returns the reason named s (unknown_customer, currency_mismatch), or an
// *InvalidValueError.
func ParseReceiptReason(s string) (ReceiptReason, error) {
	for _, r := range []ReceiptReason{ReceiptUnknownCustomer, ReceiptCurrencyMismatch} {
		if r.s == s {
			return r, nil
		}
	}
	return ReceiptReason{}, invalid("receipt reason", s, "want unknown_customer or currency_mismatch")
}

// String returns the reason name.
func (r ReceiptReason) String() string { return r.s }

// IsZero reports whether r is the zero (invalid) reason.
func (r ReceiptReason) IsZero() bool { return r.s == "" }

// MarshalJSON encodes the reason name, and the zero reason as null.
func (r ReceiptReason) MarshalJSON() ([]byte, error) { return marshalNullable(r.s, r.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero reason.
func (r *ReceiptReason) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, r, ParseReceiptReason)
}

// MaxPayerRunes bounds the payer description a provider gives with a receipt.
const MaxPayerRunes = 200

// ReceiptState is an unallocated receipt: money received, booked to unallocated receipts
// (2300) until it is allocated to a customer. Build it only with ApplyReceipt/FoldReceipt.
type ReceiptState struct {
	ID                ReceiptID
	Amount            Money
	Method            PaymentMethod
	ExternalReference string
	AccountReference  string
	Payer             string
	Reason            ReceiptReason
	ReceivedAt        time.Time
	// AllocatedTo and Payment are set once the receipt is allocated.
	AllocatedTo CustomerID
	Payment     PaymentID
}

// Recorded reports whether the receipt exists.
func (r ReceiptState) Recorded() bool { return !r.ID.IsZero() }

// Allocated reports whether the receipt was allocated to a customer.
func (r ReceiptState) Allocated() bool { return !r.AllocatedTo.IsZero() }

// ReceiptCommand is RecordUnallocatedReceipt or AllocateReceipt.
type ReceiptCommand interface{ receiptCommand() }

// RecordUnallocatedReceipt books money that cannot be a customer's payment (Reason) to
// unallocated receipts: Dr 1000 cash, Cr 2300 unallocated receipts. Customer is the customer
// the account reference named, when there is one (a currency mismatch).
//
// Errors: *AlreadyExistsError for a receipt already recorded (a replayed callback);
// *InvalidValueError for a missing id, method or reason, a non-positive amount, a text over
// its limit or a received-at in the future.
type RecordUnallocatedReceipt struct {
	ReceiptID         ReceiptID
	Amount            Money
	Method            PaymentMethod
	ExternalReference string
	AccountReference  string
	Payer             string
	Reason            ReceiptReason
	Customer          CustomerID
	ReceivedAt        time.Time
}

// AllocateReceipt gives an unallocated receipt to a customer: the customer's account records
// Payment (RecordPayment with Receipt set), which moves the money from unallocated receipts to
// the customer's receivable. Allocating again to the same customer and payment decides
// nothing (a retried allocation).
//
// Errors: *NotFoundError for a receipt never recorded; *ReceiptAllocatedError when it is
// allocated to another customer; *InvalidValueError for a missing id.
type AllocateReceipt struct {
	CustomerID CustomerID
	PaymentID  PaymentID
}

func (RecordUnallocatedReceipt) receiptCommand() {}
func (AllocateReceipt) receiptCommand()          {}

// ReceiptAllocatedError reports an allocation of a receipt already allocated elsewhere.
type ReceiptAllocatedError struct {
	Receipt  ReceiptID
	Customer CustomerID
}

func (e *ReceiptAllocatedError) Error() string {
	return "receipt " + e.Receipt.String() + " is already allocated to customer " + e.Customer.String()
}

// Unwrap returns ErrRejected.
func (e *ReceiptAllocatedError) Unwrap() error { return ErrRejected }

// DecideReceipt decides cmd against receipt r at instant now.
func DecideReceipt(r ReceiptState, cmd ReceiptCommand, now time.Time) ([]Event, error) {
	switch c := cmd.(type) {
	case RecordUnallocatedReceipt:
		return decideRecordReceipt(r, c, now)
	case AllocateReceipt:
		return decideAllocateReceipt(r, c, now)
	}
	return nil, invalid("receipt command", typeName(cmd), "unknown")
}

func decideRecordReceipt(r ReceiptState, c RecordUnallocatedReceipt, now time.Time) ([]Event, error) {
	if r.Recorded() {
		return nil, &AlreadyExistsError{Entity: "receipt", ID: r.ID.String()}
	}
	if err := firstError(
		checkID(c.ReceiptID),
		checkAmount("receipt amount", c.Amount, c.Amount.Currency(), false),
		checkText("external reference", c.ExternalReference, MaxExternalReferenceBytes, true),
		checkText("account reference", c.AccountReference, MaxExternalReferenceBytes, false),
		checkText("payer", c.Payer, MaxPayerRunes, false),
	); err != nil {
		return nil, err
	}
	switch {
	case c.Amount.Currency().IsZero():
		return nil, invalid("receipt currency", "", "missing")
	case c.Method.IsZero():
		return nil, invalid("payment method", "", "missing")
	case c.Reason.IsZero():
		return nil, invalid("receipt reason", "", "missing")
	case c.ReceivedAt.IsZero() || c.ReceivedAt.After(now):
		return nil, invalid("received at", c.ReceivedAt.UTC().Format(time.RFC3339), "missing or in the future")
	}
	return []Event{UnallocatedReceiptRecorded{
		ReceiptID: c.ReceiptID, Amount: c.Amount, Method: c.Method, ExternalReference: c.ExternalReference,
		AccountReference: c.AccountReference, Payer: c.Payer, Reason: c.Reason, CustomerID: c.Customer,
		ReceivedAt: c.ReceivedAt.UTC(), RecordedAt: now.UTC(),
	}}, nil
}

func decideAllocateReceipt(r ReceiptState, c AllocateReceipt, now time.Time) ([]Event, error) {
	if !r.Recorded() {
		return nil, &NotFoundError{Entity: "receipt", ID: "(not recorded)"}
	}
	if err := firstError(checkID(c.CustomerID), checkID(c.PaymentID)); err != nil {
		return nil, err
	}
	if r.Allocated() {
		if r.AllocatedTo == c.CustomerID && r.Payment == c.PaymentID {
			return nil, nil
		}
		return nil, &ReceiptAllocatedError{Receipt: r.ID, Customer: r.AllocatedTo}
	}
	return []Event{UnallocatedReceiptAllocated{
		ReceiptID: r.ID, CustomerID: c.CustomerID, PaymentID: c.PaymentID, Amount: r.Amount, AllocatedAt: now.UTC(),
	}}, nil
}

// ApplyReceipt folds one receipt event onto r.
func ApplyReceipt(r ReceiptState, e Event) (ReceiptState, error) {
	switch e := e.(type) {
	case UnallocatedReceiptRecorded:
		if r.Recorded() || e.ReceiptID.IsZero() || !e.Amount.IsPositive() {
			return r, invariantf("receipt %s recorded twice or without an amount", e.ReceiptID)
		}
		return ReceiptState{
			ID: e.ReceiptID, Amount: e.Amount, Method: e.Method, ExternalReference: e.ExternalReference,
			AccountReference: e.AccountReference, Payer: e.Payer, Reason: e.Reason, ReceivedAt: e.ReceivedAt,
		}, nil
	case UnallocatedReceiptAllocated:
		if !r.Recorded() || r.Allocated() || e.ReceiptID != r.ID || !e.Amount.Equal(r.Amount) {
			return r, invariantf("receipt %s cannot be allocated to %s", r.ID, e.CustomerID)
		}
		r.AllocatedTo, r.Payment = e.CustomerID, e.PaymentID
		return r, nil
	}
	return r, invariantf("%s is not a receipt event", e.EventType())
}

// FoldReceipt rebuilds a receipt from its stream.
func FoldReceipt(events []Event) (ReceiptState, error) {
	return fold(ReceiptState{}, events, ApplyReceipt)
}
