package domain

import (
	"time"

	"github.com/shopspring/decimal"
)

// Allocation is the part of a payment (or of a credit note against the account) that settled
// one invoice.
type Allocation struct {
	InvoiceID InvoiceID `json:"invoice_id"`
	Amount    Money     `json:"amount"`
}

// PaymentRecorded records money received from the customer. Allocations settle open invoices
// oldest first; Unapplied (Amount minus the allocations) becomes customer credit, which
// settles the next invoice when it is issued. ReceiptID is set when the payment is the
// allocation of an unallocated receipt (its money then comes from account 2300, not cash);
// it is null in every other payment and absent from payments recorded before it existed.
type PaymentRecorded struct {
	CustomerID        CustomerID    `json:"customer_id"`
	PaymentID         PaymentID     `json:"payment_id"`
	Amount            Money         `json:"amount"`
	Method            PaymentMethod `json:"method"`
	ExternalReference string        `json:"external_reference"`
	ReceivedAt        time.Time     `json:"received_at"`
	Allocations       []Allocation  `json:"allocations"`
	Unapplied         Money         `json:"unapplied"`
	RecordedAt        time.Time     `json:"recorded_at"`
	ReceiptID         ReceiptID     `json:"receipt_id,omitzero"`
}

// PaymentRefunded pays money of a payment back to the customer, out of customer credit.
type PaymentRefunded struct {
	CustomerID CustomerID `json:"customer_id"`
	PaymentID  PaymentID  `json:"payment_id"`
	Amount     Money      `json:"amount"`
	Reason     string     `json:"reason"`
	RefundedAt time.Time  `json:"refunded_at"`
}

// CreditNoteIssued reduces what the customer owes: against an invoice (InvoiceID set) it
// settles that invoice; against the account (InvoiceID null) it settles the customer's open
// invoices oldest first, as a payment does (Allocations), and the rest of Total (Unapplied)
// becomes customer credit. Credit notes against the account recorded before Allocations
// existed have none: all of their Total became customer credit, as it did then.
// Total = Net + Tax, Tax = Net × TaxRate rounded half-up. A billing adjustment's credit note
// (AdjustBilling) has Lines instead: Net and Tax are then minus the sums of its lines' Net and
// Tax, and TaxRate is zero. IssuedOn is the business date it takes effect (null in credit
// notes recorded before it existed: the date of IssuedAt).
type CreditNoteIssued struct {
	CustomerID   CustomerID    `json:"customer_id"`
	CreditNoteID CreditNoteID  `json:"credit_note_id"`
	InvoiceID    InvoiceID     `json:"invoice_id"`
	Net          Money         `json:"net"`
	TaxRate      TaxRate       `json:"tax_rate"`
	Tax          Money         `json:"tax"`
	Total        Money         `json:"total"`
	Reason       string        `json:"reason"`
	IssuedAt     time.Time     `json:"issued_at"`
	IssuedOn     Date          `json:"issued_on"`
	Lines        []InvoiceLine `json:"lines"`
	Allocations  []Allocation  `json:"allocations,omitempty"`
}

// Unapplied returns what of a credit note against the account became customer credit: Total
// minus its allocations (zero for a credit note against an invoice).
func (e CreditNoteIssued) Unapplied() Money {
	if !e.InvoiceID.IsZero() {
		return Zero(e.Total.Currency())
	}
	return moneyOf(e.Total.Amount().Sub(sumOf(e.Allocations)), e.Total.Currency())
}

// sumOf adds the amounts of allocations.
func sumOf(allocations []Allocation) decimal.Decimal {
	var total decimalSum
	for _, a := range allocations {
		total.addMoney(a.Amount)
	}
	return total.value()
}

// Date returns the business date the credit note takes effect.
func (e CreditNoteIssued) Date() Date {
	if e.IssuedOn.IsZero() {
		return DateOf(e.IssuedAt)
	}
	return e.IssuedOn
}

// EventType returns "PaymentRecorded".
func (PaymentRecorded) EventType() string { return "PaymentRecorded" }

// SchemaVersion returns 1.
func (PaymentRecorded) SchemaVersion() int { return 1 }

// EventType returns "PaymentRefunded".
func (PaymentRefunded) EventType() string { return "PaymentRefunded" }

// SchemaVersion returns 1.
func (PaymentRefunded) SchemaVersion() int { return 1 }

// EventType returns "CreditNoteIssued".
func (CreditNoteIssued) EventType() string { return "CreditNoteIssued" }

// SchemaVersion returns 1.
func (CreditNoteIssued) SchemaVersion() int { return 1 }
