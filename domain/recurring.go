package domain

import (
	"fmt"
	"time"
)

// GenerateRecurringInvoice bills the customer for a period in one command: it creates the
// invoice with its lines (see RecurringCharges) and issues it with Number, IssueDate (zero:
// today) and DueDate, producing InvoiceCreated and InvoiceIssued for one append. A period is
// billed at most once per customer, even if the recurring invoice is later voided.
//
// Errors: *AlreadyBilledError; *InvalidValueError for a missing period; otherwise those of
// CreateInvoice and IssueInvoice.
type GenerateRecurringInvoice struct {
	InvoiceID InvoiceID
	Period    Period
	Number    string
	IssueDate Date
	DueDate   Date
	Lines     []LineInput
}

func (a AccountState) decideGenerateRecurringInvoice(c GenerateRecurringInvoice, now time.Time) ([]Event, error) {
	if c.Period.IsZero() {
		return nil, invalid("period", "", "missing")
	}
	if billed, ok := a.BilledPeriods[c.Period]; ok {
		return nil, &AlreadyBilledError{Customer: a.Customer.ID, Period: c.Period, Invoice: billed}
	}
	created, err := a.decideCreateInvoice(c.InvoiceID, c.Period, c.Lines, now)
	if err != nil {
		return nil, err
	}
	withDraft, err := ApplyAccount(a, created[0])
	if err != nil {
		return nil, err
	}
	issued, err := DecideAccount(withDraft, IssueInvoice{InvoiceID: c.InvoiceID, Number: c.Number, DueDate: c.DueDate, IssueDate: c.IssueDate}, now)
	if err != nil {
		return nil, err
	}
	return append(created, issued...), nil
}

// typeName names a value's Go type for error messages.
func typeName(v any) string { return fmt.Sprintf("%T", v) }
