package domain

import (
	"slices"
	"time"
)

// InvoiceStatus is where an invoice is in its lifecycle:
//
//	draft → issued → partially_paid → paid
//	issued → void
//
// "Overdue" is a flag on an issued or partially paid invoice (InvoiceState.Overdue), not a
// status, so payments keep settling an overdue invoice until it is paid.
type InvoiceStatus struct {
	s string
}

// The invoice statuses.
var (
	InvoiceStatusDraft         = InvoiceStatus{"draft"}
	InvoiceStatusIssued        = InvoiceStatus{"issued"}
	InvoiceStatusPartiallyPaid = InvoiceStatus{"partially_paid"}
	InvoiceStatusPaid          = InvoiceStatus{"paid"}
	InvoiceStatusVoid          = InvoiceStatus{"void"}
)

// String returns the status name.
func (s InvoiceStatus) String() string { return s.s }

// InvoiceState is one invoice inside the Account. Build it only by folding.
type InvoiceState struct {
	ID        InvoiceID
	Status    InvoiceStatus
	Overdue   bool
	Currency  Currency
	Period    Period // set on recurring invoices only
	Number    string
	IssueDate Date
	DueDate   Date
	Lines     []InvoiceLine
	NetTotal  Money
	TaxTotal  Money
	Total     Money
	// Settled is what payments and customer credit paid; Credited what credit notes took off.
	Settled  Money
	Credited Money
	// Outstanding is Total - Settled - Credited once issued, and zero once void.
	Outstanding Money
	// IssueOrder numbers invoices in the order they were issued (1, 2, ...); with IssueDate it
	// decides which open invoice is oldest.
	IssueOrder int
}

// IsOpen reports whether the invoice is issued and not yet fully settled.
func (i InvoiceState) IsOpen() bool {
	return i.Status == InvoiceStatusIssued || i.Status == InvoiceStatusPartiallyPaid
}

// olderThan orders open invoices for settlement: earlier issue date first, then issue order.
func (i InvoiceState) olderThan(o InvoiceState) int {
	if c := i.IssueDate.Compare(o.IssueDate); c != 0 {
		return c
	}
	return i.IssueOrder - o.IssueOrder
}

func (i InvoiceState) transitionError(to string) error {
	return &InvalidTransitionError{Entity: "invoice", ID: i.ID.String(), From: i.Status.String(), To: to}
}

// CreateInvoice opens a draft invoice with zero or more lines.
//
// Errors: *CustomerInactiveError; *AlreadyExistsError for a taken invoice or duplicate line id;
// *TooManyLinesError; *CurrencyMismatchError or *InvalidValueError for a bad line;
// *AmountLimitError for a line or total of 10^MaxTotalAmountDigits or more.
type CreateInvoice struct {
	InvoiceID InvoiceID
	Lines     []LineInput
}

// AddInvoiceLine adds a line to a draft invoice.
//
// Errors: *NotFoundError; *InvalidTransitionError unless draft; *TooManyLinesError;
// *AlreadyExistsError for a duplicate line id; *CurrencyMismatchError or *InvalidValueError;
// *AmountLimitError for a line or total of 10^MaxTotalAmountDigits or more.
type AddInvoiceLine struct {
	InvoiceID InvoiceID
	Line      LineInput
}

// IssueInvoice makes a draft final with the number the command side allocated, IssueDate
// (zero: today; it may be in the past, not in the future) and DueDate. Customer credit
// settles as much of it as it can.
//
// Errors: *NotFoundError; *CustomerInactiveError; *InvalidTransitionError unless draft;
// *EmptyInvoiceError; *NegativeTotalError; *DueBeforeIssueError;
// *DuplicateInvoiceNumberError; *InvalidValueError for a malformed number or a future date;
// *AmountLimitError when the customer's receivable would reach 10^MaxTotalAmountDigits.
type IssueInvoice struct {
	InvoiceID InvoiceID
	Number    string
	DueDate   Date
	IssueDate Date
}

// VoidInvoice cancels an issued invoice nothing has settled yet (overdue or not); once
// anything is paid or credited, a credit note is the tool.
//
// Errors: *NotFoundError; *InvalidTransitionError unless issued; *InvalidValueError.
type VoidInvoice struct {
	InvoiceID InvoiceID
	Reason    string
}

// MarkInvoiceOverdue flags an open invoice whose due date has passed (today is after it).
//
// Errors: *NotFoundError; *InvalidTransitionError if not open or already overdue;
// *NotYetDueError.
type MarkInvoiceOverdue struct {
	InvoiceID InvoiceID
}

func decideAddInvoiceLine(inv InvoiceState, customer CustomerID, cmd AddInvoiceLine, now time.Time) ([]Event, error) {
	if inv.Status != InvoiceStatusDraft {
		return nil, inv.transitionError("edited")
	}
	if len(inv.Lines) >= MaxInvoiceLines {
		return nil, &TooManyLinesError{Invoice: inv.ID, Limit: MaxInvoiceLines}
	}
	line, err := newInvoiceLine(cmd.Line, inv.Currency)
	if err != nil {
		return nil, err
	}
	if slices.ContainsFunc(inv.Lines, func(l InvoiceLine) bool { return l.LineID == line.LineID }) {
		return nil, &AlreadyExistsError{Entity: "invoice line", ID: line.LineID.String()}
	}
	if _, _, _, err := boundedTotals(append(slices.Clip(inv.Lines), line), inv.Currency); err != nil {
		return nil, err
	}
	return []Event{InvoiceLineAdded{CustomerID: customer, InvoiceID: inv.ID, Line: line, AddedAt: now.UTC()}}, nil
}

// issueContext is what issuing needs from the rest of the account.
type issueContext struct {
	customer CustomerID
	credit   Money                // customer credit available to settle the invoice
	numbers  map[string]InvoiceID // invoice numbers already used in the account
}

// decideIssueInvoice issues inv, settling it with as much customer credit as it can.
func decideIssueInvoice(inv InvoiceState, ctx issueContext, cmd IssueInvoice, now time.Time) ([]Event, error) {
	today, err := businessDate("issue date", cmd.IssueDate, now)
	if err != nil {
		return nil, err
	}
	switch {
	case inv.Status != InvoiceStatusDraft:
		return nil, inv.transitionError(InvoiceStatusIssued.String())
	case ctx.numbers[cmd.Number] != InvoiceID{}:
		return nil, &DuplicateInvoiceNumberError{Number: cmd.Number, Invoice: ctx.numbers[cmd.Number]}
	case len(inv.Lines) == 0:
		return nil, &EmptyInvoiceError{Invoice: inv.ID}
	case cmd.DueDate.IsZero():
		return nil, invalid("due date", "", "missing")
	case cmd.DueDate.Before(today):
		return nil, &DueBeforeIssueError{Invoice: inv.ID, IssueDate: today, DueDate: cmd.DueDate}
	}
	if err := checkPattern("invoice number", cmd.Number, invoiceNumberPattern, false, "want 1-64 of A-Z a-z 0-9 / . _ -"); err != nil {
		return nil, err
	}
	net, tax, total, err := boundedTotals(inv.Lines, inv.Currency)
	if err != nil {
		return nil, err
	}
	if total.IsNegative() {
		return nil, &NegativeTotalError{Invoice: inv.ID, Total: total}
	}
	applied, err := minMoney(ctx.credit, total)
	if err != nil {
		return nil, err
	}
	return []Event{InvoiceIssued{InvoiceIssuedHead: InvoiceIssuedHead{
		CustomerID: ctx.customer, InvoiceID: inv.ID, Number: cmd.Number, IssueDate: today,
		DueDate: cmd.DueDate, Currency: inv.Currency, Period: inv.Period,
		NetTotal: net, TaxTotal: tax, Total: total, CreditApplied: applied, IssuedAt: now.UTC(),
	}, Lines: inv.Lines}}, nil
}

func decideVoidInvoice(inv InvoiceState, customer CustomerID, cmd VoidInvoice, now time.Time) ([]Event, error) {
	if inv.Status != InvoiceStatusIssued {
		return nil, inv.transitionError(InvoiceStatusVoid.String())
	}
	if err := checkText("reason", cmd.Reason, MaxReasonRunes, true); err != nil {
		return nil, err
	}
	return []Event{InvoiceVoided{
		CustomerID: customer, InvoiceID: inv.ID, Number: inv.Number, NetTotal: inv.NetTotal,
		TaxTotal: inv.TaxTotal, Total: inv.Total, Reason: cmd.Reason, VoidedAt: now.UTC(),
	}}, nil
}

func decideMarkInvoiceOverdue(inv InvoiceState, customer CustomerID, now time.Time) ([]Event, error) {
	today := DateOf(now)
	switch {
	case !inv.IsOpen() || inv.Overdue:
		return nil, inv.transitionError("overdue")
	case !today.After(inv.DueDate):
		return nil, &NotYetDueError{Invoice: inv.ID, DueDate: inv.DueDate, Today: today}
	}
	return []Event{InvoiceMarkedOverdue{
		CustomerID: customer, InvoiceID: inv.ID, Number: inv.Number, DueDate: inv.DueDate,
		Outstanding: inv.Outstanding, MarkedAt: now.UTC(),
	}}, nil
}
