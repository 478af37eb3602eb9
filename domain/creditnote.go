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
	// Allocations are the open invoices a credit note against the account settled; Unapplied
	// is the rest of Total, which became customer credit.
	Allocations []Allocation
	Unapplied   Money
}

// IssueCreditNote takes Net plus tax at TaxRate off what the customer owes: off an open
// invoice when InvoiceID is set (at most its outstanding amount); otherwise off the
// customer's open invoices, oldest first, as a payment (see RecordPayment), and what is left
// becomes customer credit, which settles the next invoice issued (or is refunded). IssuedOn is the
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
	var allocations []Allocation
	if !cmd.InvoiceID.IsZero() {
		if err := checkCreditAgainstInvoice(a, cmd.InvoiceID, total); err != nil {
			return nil, err
		}
	} else {
		allocations = creditAllocations(a, total)
	}
	return []Event{CreditNoteIssued{
		CustomerID: a.Customer.ID, CreditNoteID: cmd.CreditNoteID, InvoiceID: cmd.InvoiceID,
		Net: cmd.Net, TaxRate: cmd.TaxRate, Tax: tax, Total: total, Reason: cmd.Reason, IssuedAt: now.UTC(), IssuedOn: on,
		Allocations: allocations,
	}}, nil
}

// creditAllocations spreads total of a credit note against the account over the open
// invoices oldest first, as a payment; nil when nothing is open.
func creditAllocations(a AccountState, total Money) []Allocation {
	allocations, _ := allocateOldestFirst(a.OpenInvoices(), total)
	if len(allocations) == 0 {
		return nil
	}
	return allocations
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
	unapplied := issued.Unapplied()
	if len(issued.Allocations) > 0 && (!issued.InvoiceID.IsZero() || unapplied.IsNegative()) {
		return c, invariantf("credit note %s: allocations of %s against invoice %s or beyond its total %s",
			issued.CreditNoteID, moneyOf(sumOf(issued.Allocations), issued.Total.Currency()), issued.InvoiceID, issued.Total)
	}
	return CreditNoteState{
		ID: issued.CreditNoteID, InvoiceID: issued.InvoiceID, Net: issued.Net, TaxRate: issued.TaxRate,
		Tax: issued.Tax, Total: issued.Total, Reason: issued.Reason, IssuedAt: issued.IssuedAt,
		IssuedOn: issued.Date(), Lines: issued.Lines, Allocations: issued.Allocations, Unapplied: unapplied,
	}, nil
}
