package domain

import "fmt"

// CustomerInactiveError reports an attempt to invoice a deactivated customer or to give them
// a new service.
type CustomerInactiveError struct {
	Customer CustomerID
}

func (e *CustomerInactiveError) Error() string {
	return fmt.Sprintf("customer %s is deactivated", e.Customer)
}

func (e *CustomerInactiveError) Unwrap() error { return ErrRejected }

// EmptyInvoiceError reports an attempt to issue an invoice without lines.
type EmptyInvoiceError struct {
	Invoice InvoiceID
}

func (e *EmptyInvoiceError) Error() string {
	return fmt.Sprintf("invoice %s has no lines and cannot be issued", e.Invoice)
}

func (e *EmptyInvoiceError) Unwrap() error { return ErrRejected }

// TooManyLinesError reports an invoice that would exceed MaxInvoiceLines.
type TooManyLinesError struct {
	Invoice InvoiceID
	Limit   int
}

func (e *TooManyLinesError) Error() string {
	return fmt.Sprintf("invoice %s would have more than %d lines", e.Invoice, e.Limit)
}

func (e *TooManyLinesError) Unwrap() error { return ErrRejected }

// NegativeTotalError reports an invoice whose total is below zero: credits larger than the
// charges belong on a credit note, not on an invoice.
type NegativeTotalError struct {
	Invoice InvoiceID
	Total   Money
}

func (e *NegativeTotalError) Error() string {
	return fmt.Sprintf("invoice %s totals %s; an invoice cannot be negative", e.Invoice, e.Total)
}

func (e *NegativeTotalError) Unwrap() error { return ErrRejected }

// DueBeforeIssueError reports a due date earlier than the issue date.
type DueBeforeIssueError struct {
	Invoice   InvoiceID
	IssueDate Date
	DueDate   Date
}

func (e *DueBeforeIssueError) Error() string {
	return fmt.Sprintf("invoice %s: due date %s is before issue date %s", e.Invoice, e.DueDate, e.IssueDate)
}

func (e *DueBeforeIssueError) Unwrap() error { return ErrRejected }

// DuplicateInvoiceNumberError reports an invoice number already used in the account.
type DuplicateInvoiceNumberError struct {
	Number  string
	Invoice InvoiceID
}

func (e *DuplicateInvoiceNumberError) Error() string {
	return fmt.Sprintf("invoice number %q is already used by invoice %s", e.Number, e.Invoice)
}

func (e *DuplicateInvoiceNumberError) Unwrap() error { return ErrRejected }

// NotYetDueError reports MarkInvoiceOverdue on a day when the invoice is not past due.
type NotYetDueError struct {
	Invoice InvoiceID
	DueDate Date
	Today   Date
}

func (e *NotYetDueError) Error() string {
	return fmt.Sprintf("invoice %s is due %s and is not overdue on %s", e.Invoice, e.DueDate, e.Today)
}

func (e *NotYetDueError) Unwrap() error { return ErrRejected }

// InvoiceNotOpenError reports a credit note against an invoice that is not open (draft,
// paid or void).
type InvoiceNotOpenError struct {
	Invoice InvoiceID
	Status  InvoiceStatus
}

func (e *InvoiceNotOpenError) Error() string {
	return fmt.Sprintf("invoice %s is %s, not open: credit the account instead", e.Invoice, e.Status)
}

func (e *InvoiceNotOpenError) Unwrap() error { return ErrRejected }

// CreditExceedsOutstandingError reports a credit note larger than what is still owed on the
// invoice it credits.
type CreditExceedsOutstandingError struct {
	Invoice     InvoiceID
	Requested   Money
	Outstanding Money
}

func (e *CreditExceedsOutstandingError) Error() string {
	return fmt.Sprintf("credit note of %s exceeds the %s outstanding on invoice %s", e.Requested, e.Outstanding, e.Invoice)
}

func (e *CreditExceedsOutstandingError) Unwrap() error { return ErrRejected }

// RefundExceedsPaymentError reports a refund larger than the payment minus what was already
// refunded from it.
type RefundExceedsPaymentError struct {
	Payment    PaymentID
	Requested  Money
	Refundable Money
}

func (e *RefundExceedsPaymentError) Error() string {
	return fmt.Sprintf("refund of %s exceeds the %s refundable on payment %s", e.Requested, e.Refundable, e.Payment)
}

func (e *RefundExceedsPaymentError) Unwrap() error { return ErrRejected }

// RefundExceedsCreditError reports a refund larger than the customer's credit balance: money
// already settling invoices is refunded only after a credit note returns it to credit.
type RefundExceedsCreditError struct {
	Customer  CustomerID
	Requested Money
	Available Money
}

func (e *RefundExceedsCreditError) Error() string {
	return fmt.Sprintf("refund of %s exceeds customer %s's credit of %s", e.Requested, e.Customer, e.Available)
}

func (e *RefundExceedsCreditError) Unwrap() error { return ErrRejected }

// AlreadyBilledError reports a second recurring invoice for the same customer and period.
type AlreadyBilledError struct {
	Customer CustomerID
	Period   Period
	Invoice  InvoiceID
}

func (e *AlreadyBilledError) Error() string {
	return fmt.Sprintf("customer %s is already billed for %s by invoice %s", e.Customer, e.Period, e.Invoice)
}

func (e *AlreadyBilledError) Unwrap() error { return ErrRejected }

// PlanRetiredError reports provisioning or changing to a retired plan.
type PlanRetiredError struct {
	Plan PlanCode
}

func (e *PlanRetiredError) Error() string { return fmt.Sprintf("plan %s is retired", e.Plan) }

func (e *PlanRetiredError) Unwrap() error { return ErrRejected }
