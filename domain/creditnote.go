package domain

import "time"

// CreditNoteState is one credit note inside the Account. Build it only by folding.
type CreditNoteState struct {
	ID        CreditNoteID
	InvoiceID InvoiceID // zero for a credit note against the account
	Net       Money
	TaxRate   TaxRate
	Tax       Money
	Total     Money
	Reason    string
	IssuedAt  time.Time
	IssuedOn  Date
	Lines     []InvoiceLine // a billing adjustment's lines (see AdjustBilling)
}

// IssueCreditNote takes Net plus tax at TaxRate off what the customer owes: off an open
// invoice when InvoiceID is set (at most its outstanding amount), otherwise onto the
// customer's credit, which settles the next invoice issued (or is refunded). IssuedOn is the
// business date it takes effect (zero: today); it may be in the past, not in the future.
//
// Errors: *AlreadyExistsError; *NotFoundError for an unknown invoice; *InvoiceNotOpenError;
// *CreditExceedsOutstandingError; *CurrencyMismatchError; *InvalidValueError.
type IssueCreditNote struct {
	CreditNoteID CreditNoteID
	InvoiceID    InvoiceID
	Net          Money
	TaxRate      TaxRate
	Reason       string
	IssuedOn     Date
}

func decideIssueCreditNote(a AccountState, cmd IssueCreditNote, now time.Time) ([]Event, error) {
	if err := firstError(
		checkID(cmd.CreditNoteID),
		checkAmount("credit note net", cmd.Net, a.Customer.Currency, false),
		checkText("reason", cmd.Reason, MaxReasonRunes, true),
	); err != nil {
		return nil, err
	}
	if _, ok := a.CreditNotes[cmd.CreditNoteID]; ok {
		return nil, &AlreadyExistsError{Entity: "credit note", ID: cmd.CreditNoteID.String()}
	}
	on, err := businessDate("issued on", cmd.IssuedOn, now)
	if err != nil {
		return nil, err
	}
	tax := cmd.Net.Mul(cmd.TaxRate.Decimal())
	total, err := cmd.Net.Add(tax)
	if err != nil {
		return nil, err
	}
	if !cmd.InvoiceID.IsZero() {
		if err := checkCreditAgainstInvoice(a, cmd.InvoiceID, total); err != nil {
			return nil, err
		}
	}
	return []Event{CreditNoteIssued{
		CustomerID: a.Customer.ID, CreditNoteID: cmd.CreditNoteID, InvoiceID: cmd.InvoiceID,
		Net: cmd.Net, TaxRate: cmd.TaxRate, Tax: tax, Total: total, Reason: cmd.Reason, IssuedAt: now.UTC(), IssuedOn: on,
	}}, nil
}

// checkCreditAgainstInvoice requires the invoice to be open with at least total outstanding.
func checkCreditAgainstInvoice(a AccountState, id InvoiceID, total Money) error {
	inv, ok := a.Invoices[id]
	switch {
	case !ok:
		return &NotFoundError{Entity: "invoice", ID: id.String()}
	case !inv.IsOpen():
		return &InvoiceNotOpenError{Invoice: id, Status: inv.Status}
	}
	if c, err := total.Cmp(inv.Outstanding); err != nil || c > 0 {
		return &CreditExceedsOutstandingError{Invoice: id, Requested: total, Outstanding: inv.Outstanding}
	}
	return nil
}

// applyCreditNote folds CreditNoteIssued onto an empty credit note.
func applyCreditNote(c CreditNoteState, e Event) (CreditNoteState, error) {
	issued, ok := e.(CreditNoteIssued)
	if !ok {
		return c, invariantf("%s is not a credit note event", e.EventType())
	}
	if !c.ID.IsZero() {
		return c, invariantf("credit note %s issued twice", c.ID)
	}
	sum, err := issued.Net.Add(issued.Tax)
	if err != nil || !sum.Equal(issued.Total) || !issued.Total.IsPositive() {
		return c, invariantf("credit note %s: net %s + tax %s is not total %s", issued.CreditNoteID, issued.Net, issued.Tax, issued.Total)
	}
	if len(issued.Lines) > 0 {
		net, tax, _, err := invoiceTotals(issued.Lines, issued.Total.Currency())
		if err != nil || !net.Neg().Equal(issued.Net) || !tax.Neg().Equal(issued.Tax) {
			return c, invariantf("credit note %s: its lines do not sum to net %s and tax %s", issued.CreditNoteID, issued.Net, issued.Tax)
		}
	}
	return CreditNoteState{
		ID: issued.CreditNoteID, InvoiceID: issued.InvoiceID, Net: issued.Net, TaxRate: issued.TaxRate,
		Tax: issued.Tax, Total: issued.Total, Reason: issued.Reason, IssuedAt: issued.IssuedAt,
		IssuedOn: issued.Date(), Lines: issued.Lines,
	}, nil
}
