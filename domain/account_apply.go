package domain

// FoldAccount rebuilds an account from its stream, oldest event first. An event that cannot
// apply returns an error wrapping ErrInvariant, with the event's index.
func FoldAccount(events []Event) (AccountState, error) {
	var copies accountCopies
	return fold(AccountState{}, events, func(a AccountState, e Event) (AccountState, error) {
		return applyAccountOwned(a, e, &copies)
	})
}

// ApplyAccount folds one event of the account stream onto a and returns the new state; a is
// not modified. Every money amount in the event must be in the account's currency and every
// event must name the account's customer; any event that cannot apply returns a and an error
// wrapping ErrInvariant.
func ApplyAccount(a AccountState, e Event) (AccountState, error) {
	return applyAccountOwned(a, e, &accountCopies{})
}

// applyAccountOwned is ApplyAccount writing in place the maps copies holds (owned.go). Every
// apply checks everything before its first write, so on error a is as it was.
func applyAccountOwned(a AccountState, e Event, copies *accountCopies) (AccountState, error) {
	next, err := applyAccount(a, e, copies)
	if err != nil {
		return a, asInvariant(e, err)
	}
	return next, nil
}

func applyAccount(a AccountState, e Event, c *accountCopies) (AccountState, error) {
	if err := a.checkBelongs(e); err != nil {
		return a, err
	}
	switch e := e.(type) {
	case CustomerRegistered, CustomerContactUpdated, CustomerDeactivated:
		return a.applyCustomer(e)
	case InvoiceCreated:
		return a.applyInvoiceCreated(e, c)
	case InvoiceLineAdded:
		return a.applyToInvoice(e.InvoiceID, e, c)
	case InvoiceIssued:
		return a.applyInvoiceIssued(e, c)
	case InvoiceVoided:
		return a.applyToInvoice(e.InvoiceID, e, c)
	case InvoiceMarkedOverdue:
		return a.applyToInvoice(e.InvoiceID, e, c)
	case PaymentRecorded:
		return a.applyPaymentRecorded(e, c)
	case PaymentRefunded:
		return a.applyPaymentRefunded(e, c)
	case CreditNoteIssued:
		return a.applyCreditNoteIssued(e, c)
	case OpeningBalanceRecorded:
		return a.applyOpeningBalance(e, c)
	case CustomerCreditApplied:
		return a.applyCustomerCreditApplied(e, c)
	}
	return a, invariantf("%s is not an account event", e.EventType())
}

// checkBelongs requires e to be an account event of this account's customer.
func (a AccountState) checkBelongs(e Event) error {
	ae, ok := e.(accountEvent)
	switch {
	case !ok:
		return invariantf("%s is not an account event", e.EventType())
	case !a.Customer.Registered():
		if _, opening := e.(CustomerRegistered); !opening {
			return invariantf("%s before CustomerRegistered", e.EventType())
		}
	case ae.accountCustomer() != a.Customer.ID:
		return invariantf("%s of customer %s in the account of %s", e.EventType(), ae.accountCustomer(), a.Customer.ID)
	}
	return nil
}

func (a AccountState) applyCustomer(e Event) (AccountState, error) {
	c, err := applyCustomer(a.Customer, e)
	if err != nil {
		return a, err
	}
	if _, opening := e.(CustomerRegistered); opening {
		a.Credit = Zero(c.Currency)
	}
	a.Customer = c
	return a, nil
}

func (a AccountState) applyInvoiceCreated(e InvoiceCreated, c *accountCopies) (AccountState, error) {
	if _, exists := a.Invoices[e.InvoiceID]; exists || e.Currency != a.Customer.Currency {
		return a, invariantf("invoice %s created twice or in %s", e.InvoiceID, e.Currency)
	}
	inv, err := applyInvoice(InvoiceState{}, e)
	if err != nil {
		return a, err
	}
	if !e.Period.IsZero() {
		a.BilledPeriods = put(a.BilledPeriods, e.Period, e.InvoiceID, &c.billedPeriods, c.logged)
	}
	a.Invoices = put(a.Invoices, e.InvoiceID, inv, &c.invoices, c.logged)
	return a, nil
}

// applyToInvoice applies an event that concerns invoice id alone.
func (a AccountState) applyToInvoice(id InvoiceID, e Event, c *accountCopies) (AccountState, error) {
	inv, ok := a.Invoices[id]
	if !ok {
		return a, invariantf("%s for unknown invoice %s", e.EventType(), id)
	}
	inv, err := applyInvoice(inv, e)
	if err != nil {
		return a, err
	}
	a.Invoices = put(a.Invoices, id, inv, &c.invoices, c.logged)
	return a, nil
}

// applyInvoiceIssued makes the invoice final and moves CreditApplied out of customer credit.
func (a AccountState) applyInvoiceIssued(e InvoiceIssued, c *accountCopies) (AccountState, error) {
	credit, err := a.Credit.Sub(e.CreditApplied)
	if err != nil || credit.IsNegative() {
		return a, invariantf("invoice %s applies %s of credit %s", e.InvoiceID, e.CreditApplied, a.Credit)
	}
	a.IssuedCount++
	next, err := a.applyToInvoice(e.InvoiceID, e, c)
	if err != nil {
		return a, err
	}
	inv := next.Invoices[e.InvoiceID]
	inv.IssueOrder = a.IssuedCount
	next.Invoices = put(next.Invoices, e.InvoiceID, inv, &c.invoices, c.logged) // owned since applyToInvoice: in place
	next.Credit = credit
	return next, nil
}

// applyPaymentRecorded records the payment, settles its allocations and adds the unapplied
// rest to customer credit.
func (a AccountState) applyPaymentRecorded(e PaymentRecorded, c *accountCopies) (AccountState, error) {
	if a.payments.has(e.PaymentID) {
		return a, invariantf("payment %s recorded twice", e.PaymentID)
	}
	p, err := applyPayment(PaymentState{}, e)
	if err != nil {
		return a, err
	}
	settled, err := a.settleAllocations(e.Allocations, false, "payment "+e.PaymentID.String())
	if err != nil {
		return a, err
	}
	if err := checkSum(e.Amount, moneyOf(sumOf(e.Allocations), e.Amount.Currency()), e.Unapplied); err != nil {
		return a, invariantf("payment %s: %v", e.PaymentID, err)
	}
	if a.Credit, err = a.Credit.Add(e.Unapplied); err != nil {
		return a, invariantf("payment %s: %v", e.PaymentID, err)
	}
	for id, inv := range settled {
		a.Invoices = put(a.Invoices, id, inv, &c.invoices, c.logged)
	}
	a.payments = a.payments.add(p, &c.payments, c.logged)
	return a, nil
}

// applyPaymentRefunded takes the refund out of the payment's refundable amount and out of
// customer credit.
func (a AccountState) applyPaymentRefunded(e PaymentRefunded, c *accountCopies) (AccountState, error) {
	old, _ := a.payments.get(e.PaymentID)
	p, err := applyPayment(old, e)
	if err != nil {
		return a, err
	}
	credit, err := a.Credit.Sub(e.Amount)
	if err != nil || credit.IsNegative() {
		return a, invariantf("refund of %s with customer credit %s", e.Amount, a.Credit)
	}
	a.Credit, a.payments = credit, a.payments.refunded(p, &c.payments, c.logged)
	return a, nil
}

// applyCreditNoteIssued settles the credited invoice, or (against the account) settles its
// allocations and adds the unapplied rest to customer credit.
func (a AccountState) applyCreditNoteIssued(e CreditNoteIssued, c *accountCopies) (AccountState, error) {
	if _, exists := a.CreditNotes[e.CreditNoteID]; exists {
		return a, invariantf("credit note %s issued twice", e.CreditNoteID)
	}
	cn, err := applyCreditNote(CreditNoteState{}, e)
	if err != nil {
		return a, err
	}
	if e.InvoiceID.IsZero() {
		settled, err := a.settleAllocations(e.Allocations, true, "credit note "+e.CreditNoteID.String())
		if err != nil {
			return a, err
		}
		if a.Credit, err = a.Credit.Add(cn.Unapplied); err != nil {
			return a, invariantf("credit note %s: %v", e.CreditNoteID, err)
		}
		for id, inv := range settled {
			a.Invoices = put(a.Invoices, id, inv, &c.invoices, c.logged)
		}
	} else {
		inv, ok := a.Invoices[e.InvoiceID]
		if !ok {
			return a, invariantf("credit note %s for unknown invoice %s", e.CreditNoteID, e.InvoiceID)
		}
		if inv, err = inv.settle(e.Total, true); err != nil {
			return a, err
		}
		a.Invoices = put(a.Invoices, e.InvoiceID, inv, &c.invoices, c.logged)
	}
	a.CreditNotes = put(a.CreditNotes, e.CreditNoteID, cn, &c.creditNotes, c.logged)
	return a, nil
}

// settleAllocations returns the invoices allocations settle, settled (by a credit note when
// byCreditNote), without writing them to a; what names the payment or credit note for errors.
func (a AccountState) settleAllocations(allocations []Allocation, byCreditNote bool, what string) (map[InvoiceID]InvoiceState, error) {
	settled := make(map[InvoiceID]InvoiceState, len(allocations))
	for _, al := range allocations {
		inv, ok := settled[al.InvoiceID]
		if !ok {
			inv, ok = a.Invoices[al.InvoiceID]
		}
		if !ok {
			return nil, invariantf("%s settles unknown invoice %s", what, al.InvoiceID)
		}
		if byCreditNote && !al.Amount.IsPositive() {
			return nil, invariantf("%s settles %s of invoice %s", what, al.Amount, al.InvoiceID)
		}
		var err error
		if settled[al.InvoiceID], err = inv.settle(al.Amount, byCreditNote); err != nil {
			return nil, err
		}
	}
	return settled, nil
}

// checkSum returns an error unless total = a + b.
func checkSum(total, a, b Money) error {
	sum, err := a.Add(b)
	if err != nil {
		return err
	}
	if !sum.Equal(total) {
		return invalid("sum", sum.String(), "does not equal "+total.String())
	}
	return nil
}

// accountEvent is an event of the account stream; each names the account's customer.
type accountEvent interface {
	Event
	accountCustomer() CustomerID
}

func (e CustomerRegistered) accountCustomer() CustomerID     { return e.CustomerID }
func (e CustomerContactUpdated) accountCustomer() CustomerID { return e.CustomerID }
func (e CustomerDeactivated) accountCustomer() CustomerID    { return e.CustomerID }
func (e InvoiceCreated) accountCustomer() CustomerID         { return e.CustomerID }
func (e InvoiceLineAdded) accountCustomer() CustomerID       { return e.CustomerID }
func (e InvoiceIssued) accountCustomer() CustomerID          { return e.CustomerID }
func (e InvoiceVoided) accountCustomer() CustomerID          { return e.CustomerID }
func (e InvoiceMarkedOverdue) accountCustomer() CustomerID   { return e.CustomerID }
func (e PaymentRecorded) accountCustomer() CustomerID        { return e.CustomerID }
func (e PaymentRefunded) accountCustomer() CustomerID        { return e.CustomerID }
func (e CreditNoteIssued) accountCustomer() CustomerID       { return e.CustomerID }
