package domain

import "time"

// ProviderBooking says where a provider payment was booked: to a customer's account (a
// PaymentRecorded) or to unallocated receipts (an UnallocatedReceiptRecorded). The zero
// ProviderBooking is invalid.
type ProviderBooking struct {
	s string
}

// The provider bookings.
var (
	// BookedToAccount: the customer's payment, on the customer's account stream.
	BookedToAccount = ProviderBooking{"account"}
	// BookedToReceipt: an unallocated receipt, on the receipt stream.
	BookedToReceipt = ProviderBooking{"receipt"}
)

// ParseProviderBooking returns the booking named s (account, receipt), or an
// *InvalidValueError.
func ParseProviderBooking(s string) (ProviderBooking, error) {
	for _, b := range []ProviderBooking{BookedToAccount, BookedToReceipt} {
		if b.s == s {
			return b, nil
		}
	}
	return ProviderBooking{}, invalid("provider booking", s, "want account or receipt")
}

// String returns the booking name.
func (b ProviderBooking) String() string { return b.s }

// IsZero reports whether b is the zero (invalid) booking.
func (b ProviderBooking) IsZero() bool { return b.s == "" }

// MarshalJSON encodes the booking name, and the zero booking as null.
func (b ProviderBooking) MarshalJSON() ([]byte, error) { return marshalNullable(b.s, b.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero booking.
func (b *ProviderBooking) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, b, ParseProviderBooking)
}

// ProviderPaymentState is the claim of one provider payment (tenant, provider, the provider's
// payment id): which of the two bookings, the customer's payment or an unallocated receipt,
// holds its money. Every event a provider sends of the payment claims it before booking it,
// and only the first claim is recorded, so a payment is booked once whatever its events name.
// Build it only with ApplyProviderPayment/FoldProviderPayment.
type ProviderPaymentState struct {
	// Claim is the recorded claim; its ReceiptID is zero until the payment is claimed.
	Claim ProviderPaymentClaimed
}

// Claimed reports whether the payment is claimed.
func (s ProviderPaymentState) Claimed() bool { return !s.Claim.ReceiptID.IsZero() }

// CheckSame returns a *ProviderPaymentMismatchError when amount is not the claimed amount (in
// amount and currency): two events of one payment that disagree on what was paid.
func (s ProviderPaymentState) CheckSame(amount Money) error {
	if !s.Claimed() || (amount.Currency() == s.Claim.Amount.Currency() && amount.Equal(s.Claim.Amount)) {
		return nil
	}
	return &ProviderPaymentMismatchError{ExternalReference: s.Claim.ExternalReference, Claimed: s.Claim.Amount, Got: amount}
}

// ClaimProviderPayment claims a provider payment for one booking: BookedToAccount with the
// customer and the payment id the account records, or BookedToReceipt with the reason (and
// the customer named, on a currency mismatch). ReceiptID keys the claim (and is the receipt's
// id when booked to unallocated receipts).
//
// Errors: *AlreadyExistsError when the payment is claimed already (with the same amount);
// *ProviderPaymentMismatchError when it is claimed with another amount or currency;
// *InvalidValueError for a missing id, reference, booking, customer, payment or reason, or a
// non-positive amount.
type ClaimProviderPayment struct {
	ReceiptID         ReceiptID
	ExternalReference string
	Amount            Money
	Booking           ProviderBooking
	Customer          CustomerID
	Payment           PaymentID
	Reason            ReceiptReason
}

// ProviderPaymentCommand is ClaimProviderPayment.
type ProviderPaymentCommand interface{ providerPaymentCommand() }

func (ClaimProviderPayment) providerPaymentCommand() {}

// ProviderPaymentMismatchError reports an event of a provider payment whose amount or
// currency is not the one the payment was booked with: nothing is booked, a person must look.
type ProviderPaymentMismatchError struct {
	ExternalReference string
	Claimed, Got      Money
}

func (e *ProviderPaymentMismatchError) Error() string {
	return "provider payment " + e.ExternalReference + " was booked as " + e.Claimed.String() + ", this event reports " + e.Got.String()
}

// Unwrap returns ErrRejected.
func (e *ProviderPaymentMismatchError) Unwrap() error { return ErrRejected }

// DecideProviderPayment decides a claim against s at instant now.
func DecideProviderPayment(s ProviderPaymentState, c ClaimProviderPayment, now time.Time) ([]Event, error) {
	if s.Claimed() {
		if err := s.CheckSame(c.Amount); err != nil {
			return nil, err
		}
		return nil, &AlreadyExistsError{Entity: "provider payment", ID: s.Claim.ExternalReference}
	}
	if err := firstError(
		checkID(c.ReceiptID),
		checkAmount("provider payment amount", c.Amount, c.Amount.Currency(), false),
		checkText("external reference", c.ExternalReference, MaxExternalReferenceBytes, true),
	); err != nil {
		return nil, err
	}
	switch {
	case c.Amount.Currency().IsZero():
		return nil, invalid("provider payment currency", "", "missing")
	case c.Booking == BookedToAccount:
		if err := firstError(checkID(c.Customer), checkID(c.Payment)); err != nil {
			return nil, err
		}
		if !c.Reason.IsZero() {
			return nil, invalid("receipt reason", c.Reason.String(), "a payment booked to an account has none")
		}
	case c.Booking == BookedToReceipt:
		if c.Reason.IsZero() {
			return nil, invalid("receipt reason", "", "missing")
		}
		if !c.Payment.IsZero() {
			return nil, invalid("payment id", c.Payment.String(), "a receipt has none until it is allocated")
		}
	default:
		return nil, invalid("provider booking", c.Booking.String(), "want account or receipt")
	}
	return []Event{ProviderPaymentClaimed{ReceiptID: c.ReceiptID, ExternalReference: c.ExternalReference, Amount: c.Amount,
		BookedTo: c.Booking, CustomerID: c.Customer, PaymentID: c.Payment, Reason: c.Reason, ClaimedAt: now.UTC()}}, nil
}

// ApplyProviderPayment folds one provider payment event onto s.
func ApplyProviderPayment(s ProviderPaymentState, e Event) (ProviderPaymentState, error) {
	c, ok := e.(ProviderPaymentClaimed)
	switch {
	case !ok:
		return s, invariantf("%s is not a provider payment event", e.EventType())
	case s.Claimed() || c.ReceiptID.IsZero() || c.BookedTo.IsZero() || !c.Amount.IsPositive():
		return s, invariantf("provider payment %s claimed twice or without a booking or amount", c.ReceiptID)
	}
	return ProviderPaymentState{Claim: c}, nil
}

// FoldProviderPayment rebuilds a provider payment's claim from its stream.
func FoldProviderPayment(events []Event) (ProviderPaymentState, error) {
	return fold(ProviderPaymentState{}, events, ApplyProviderPayment)
}
