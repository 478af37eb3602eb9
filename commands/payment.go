package commands

import (
	"context"
	"time"

	"github.com/dotmac/ledger/domain"
)

// RecordPayment records money received from a customer; the payment id is generated. The
// payment settles open invoices oldest first; the rest becomes customer credit.
type RecordPayment struct {
	CustomerID        domain.CustomerID
	Amount            domain.Money
	Method            domain.PaymentMethod
	ExternalReference string
	// ReceivedAt is when the money arrived (zero: now).
	ReceivedAt time.Time
}

// RefundPayment pays part or all of a payment back out of customer credit.
type RefundPayment struct {
	CustomerID domain.CustomerID
	PaymentID  domain.PaymentID
	Amount     domain.Money
	Reason     string
}

// IssueCreditNote credits an open invoice (InvoiceID set) or the account (zero InvoiceID),
// as of IssuedOn (zero: today; not in the future); the credit note id is generated.
type IssueCreditNote struct {
	CustomerID domain.CustomerID
	InvoiceID  domain.InvoiceID
	Net        domain.Money
	TaxRate    domain.TaxRate
	Reason     string
	IssuedOn   domain.Date
}

// RecordOpeningBalance moves a customer's balance over from another system (see
// domain.RecordOpeningBalance): Amount positive when the customer owes it, negative when it is
// owed to the customer, as of AsOf (zero: today).
type RecordOpeningBalance struct {
	CustomerID domain.CustomerID
	Amount     domain.Money
	AsOf       domain.Date
}

// ApplyCustomerCredit settles a customer's open invoices out of customer credit, oldest first
// (see domain.ApplyCustomerCredit): the repair of an account an earlier version left with
// credit beside open invoices. Nothing to settle, nothing appended.
type ApplyCustomerCredit struct {
	CustomerID domain.CustomerID
}

// RecordPayment records a payment; Result.ID is the new payment id and the PaymentRecorded
// event in Result.Events carries its allocations.
//
// Errors: *domain.NotFoundError; *domain.AlreadyExistsError for a repeated external reference;
// *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) RecordPayment(ctx context.Context, m Meta, c RecordPayment) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	id, err := idFor(m, "payment", domain.NewPaymentID)
	if err != nil {
		return Result{}, err
	}
	return h.decideAccount(ctx, "RecordPayment", m, c.CustomerID, id.String(), func(a domain.AccountState, now time.Time) ([]domain.Event, error) {
		received := c.ReceivedAt
		if received.IsZero() {
			received = now
		}
		return domain.DecideAccount(a, domain.RecordPayment{PaymentID: id, Amount: c.Amount, Method: c.Method,
			ExternalReference: c.ExternalReference, ReceivedAt: received}, now)
	})
}

// RefundPayment refunds a payment; Result.ID is the payment id.
//
// Errors: *domain.NotFoundError; *domain.RefundExceedsPaymentError;
// *domain.RefundExceedsCreditError; *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) RefundPayment(ctx context.Context, m Meta, c RefundPayment) (Result, error) {
	return h.onAccount(ctx, "RefundPayment", m, c.CustomerID, c.PaymentID.String(),
		domain.RefundPayment{PaymentID: c.PaymentID, Amount: c.Amount, Reason: c.Reason})
}

// IssueCreditNote issues a credit note; Result.ID is the new credit note id.
//
// Errors: *domain.NotFoundError (customer or invoice); *domain.InvoiceNotOpenError;
// *domain.CreditExceedsOutstandingError; *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) IssueCreditNote(ctx context.Context, m Meta, c IssueCreditNote) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	id, err := idFor(m, "credit note", domain.NewCreditNoteID)
	if err != nil {
		return Result{}, err
	}
	return h.onAccount(ctx, "IssueCreditNote", m, c.CustomerID, id.String(), domain.IssueCreditNote{
		CreditNoteID: id, InvoiceID: c.InvoiceID, Net: c.Net, TaxRate: c.TaxRate, Reason: c.Reason, IssuedOn: c.IssuedOn})
}

// ApplyCustomerCredit applies the customer's credit to its open invoices; Result.ID is the
// customer id and Result.Events the CustomerCreditApplied, if anything was settled.
//
// Errors: *domain.NotFoundError.
func (h *Handlers) ApplyCustomerCredit(ctx context.Context, m Meta, c ApplyCustomerCredit) (Result, error) {
	return h.onAccount(ctx, "ApplyCustomerCredit", m, c.CustomerID, c.CustomerID.String(), domain.ApplyCustomerCredit{})
}

// RecordOpeningBalance records a customer's opening balance, once; Result.ID is the customer
// id (and the open item's invoice id derives from the command).
//
// Errors: *domain.NotFoundError; *domain.AlreadyExistsError when the customer has one;
// *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) RecordOpeningBalance(ctx context.Context, m Meta, c RecordOpeningBalance) (Result, error) {
	m, err := m.withDefaults()
	if err != nil {
		return Result{}, err
	}
	id, err := idFor(m, "opening balance", domain.NewInvoiceID)
	if err != nil {
		return Result{}, err
	}
	return h.onAccount(ctx, "RecordOpeningBalance", m, c.CustomerID, c.CustomerID.String(),
		domain.RecordOpeningBalance{InvoiceID: id, Amount: c.Amount, AsOf: c.AsOf})
}
