package domain

import "time"

// AdjustBilling issues the billing adjustment of a customer at once, as one document: Lines
// are the account's Adjustments (computed by the caller on the same state, with LineIDs
// filled in). When they add up to zero or more, a supplementary invoice with them is created
// and issued (InvoiceCreated and InvoiceIssued, numbered Number, due on DueDate), settled from
// customer credit like any invoice; when they add up to less than zero, a credit note with
// them is issued against the account (CreditNoteIssued with Lines), which settles the
// customer's open invoices oldest first; the rest becomes customer credit. Both are dated
// today. No lines, nothing to append. The customer need not be active: a customer who has
// left is still owed, or still owes, what the adjustment says.
//
// Errors: *AlreadyExistsError for a taken document id; *TooManyLinesError;
// *InvalidValueError for a bad line or a missing id.
type AdjustBilling struct {
	InvoiceID    InvoiceID
	CreditNoteID CreditNoteID
	Number       string
	DueDate      Date
	Lines        []LineInput
}

func (AdjustBilling) accountCommand() {}

func (a AccountState) decideAdjustBilling(c AdjustBilling, now time.Time) ([]Event, error) {
	if len(c.Lines) == 0 {
		return nil, nil
	}
	lines, err := newInvoiceLines(c.InvoiceID, c.Lines, a.Customer.Currency)
	if err != nil {
		return nil, err
	}
	net, tax, total, err := boundedTotals(lines, a.Customer.Currency)
	if err != nil {
		return nil, err
	}
	if total.IsNegative() {
		return a.adjustmentCreditNote(c.CreditNoteID, lines, net, tax, total, now)
	}
	if err := checkID(c.InvoiceID); err != nil {
		return nil, err
	}
	if _, ok := a.Invoices[c.InvoiceID]; ok {
		return nil, &AlreadyExistsError{Entity: "invoice", ID: c.InvoiceID.String()}
	}
	created := InvoiceCreated{CustomerID: a.Customer.ID, InvoiceID: c.InvoiceID, Currency: a.Customer.Currency,
		Lines: lines, CreatedAt: now.UTC()}
	withDraft, err := ApplyAccount(a, created)
	if err != nil {
		return nil, err
	}
	inv := withDraft.Invoices[c.InvoiceID]
	issued, err := decideIssueInvoice(inv, issueContext{customer: a.Customer.ID, credit: a.Credit, numbers: a.invoiceNumbers()},
		IssueInvoice{InvoiceID: c.InvoiceID, Number: c.Number, DueDate: c.DueDate}, now)
	if err != nil {
		return nil, err
	}
	return append([]Event{created}, issued...), nil
}

// adjustmentCreditNote credits the account with lines that add up to total (negative).
func (a AccountState) adjustmentCreditNote(id CreditNoteID, lines []InvoiceLine, net, tax, total Money, now time.Time) ([]Event, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if _, ok := a.CreditNotes[id]; ok {
		return nil, &AlreadyExistsError{Entity: "credit note", ID: id.String()}
	}
	return []Event{CreditNoteIssued{
		CustomerID: a.Customer.ID, CreditNoteID: id, Net: net.Neg(), Tax: tax.Neg(), Total: total.Neg(),
		TaxRate: TaxRate{}, Reason: "Billing adjustment", IssuedAt: now.UTC(), IssuedOn: DateOf(now), Lines: lines,
		Allocations: creditAllocations(a, total.Neg()),
	}}, nil
}
