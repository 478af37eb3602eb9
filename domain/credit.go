package domain

import "time"

// ApplyCustomerCredit settles the customer's open invoices, oldest first, out of customer
// credit, as far as the credit goes: the repair of an account that holds credit beside open
// invoices. This version never leaves the two side by side (payments, credit notes, opening
// balances and issued invoices settle each other), but an account written by an earlier
// version can hold both: an account credit note then became customer credit and left the
// invoices open. With no credit or nothing open there is nothing to settle and nothing to
// append, so the command can be sent to any account, any number of times.
type ApplyCustomerCredit struct{}

func (ApplyCustomerCredit) accountCommand() {}

// CustomerCreditApplied settles open invoices (Allocations, oldest first) out of customer
// credit; Amount is the sum of the allocations. AppliedOn is the date its journal entry
// carries.
type CustomerCreditApplied struct {
	CustomerID  CustomerID   `json:"customer_id"`
	Allocations []Allocation `json:"allocations"`
	Amount      Money        `json:"amount"`
	AppliedOn   Date         `json:"applied_on"`
	AppliedAt   time.Time    `json:"applied_at"`
}

// EventType returns "CustomerCreditApplied".
func (CustomerCreditApplied) EventType() string { return "CustomerCreditApplied" }

// SchemaVersion returns 1.
func (CustomerCreditApplied) SchemaVersion() int { return 1 }

func (e CustomerCreditApplied) accountCustomer() CustomerID { return e.CustomerID }

// OccurredAt implements Timed.
func (e CustomerCreditApplied) OccurredAt() time.Time { return e.AppliedAt }

// CreditBesideOpenInvoices reports whether the account holds customer credit while invoices
// are open: what ApplyCustomerCredit settles. Only accounts written by earlier versions can.
func (a AccountState) CreditBesideOpenInvoices() bool {
	if !a.Credit.IsPositive() {
		return false
	}
	for _, inv := range a.Invoices {
		if inv.IsOpen() && inv.Outstanding.IsPositive() {
			return true
		}
	}
	return false
}

// applyCredit returns the CustomerCreditApplied that settles a's open invoices out of its
// credit, dated on (or, if later, the issue date of the newest invoice it settles), and
// whether there is anything to settle.
func (a AccountState) applyCredit(on Date, now time.Time) (CustomerCreditApplied, bool) {
	if !a.CreditBesideOpenInvoices() {
		return CustomerCreditApplied{}, false
	}
	allocations, left := allocateOldestFirst(a.OpenInvoices(), a.Credit)
	for _, al := range allocations {
		if d := a.Invoices[al.InvoiceID].IssueDate; d.After(on) {
			on = d
		}
	}
	return CustomerCreditApplied{
		CustomerID: a.Customer.ID, Allocations: allocations, Amount: moneyOf(a.Credit.Amount().Sub(left.Amount()), a.Credit.Currency()),
		AppliedOn: on, AppliedAt: now.UTC(),
	}, true
}

func (a AccountState) decideApplyCustomerCredit(now time.Time) ([]Event, error) {
	e, ok := a.applyCredit(DateOf(now), now)
	if !ok {
		return nil, nil
	}
	return []Event{e}, nil
}

// applyCustomerCreditApplied settles the allocations out of customer credit.
func (a AccountState) applyCustomerCreditApplied(e CustomerCreditApplied, c *accountCopies) (AccountState, error) {
	if !e.Amount.IsPositive() || !e.Amount.Equal(moneyOf(sumOf(e.Allocations), e.Amount.Currency())) {
		return a, invariantf("customer credit applied: %s is not the sum of its allocations", e.Amount)
	}
	credit, err := a.Credit.Sub(e.Amount)
	if err != nil || credit.IsNegative() {
		return a, invariantf("customer credit applied: %s of credit %s", e.Amount, a.Credit)
	}
	settled, err := a.settleAllocations(e.Allocations, false, "customer credit")
	if err != nil {
		return a, err
	}
	for _, al := range e.Allocations {
		if !al.Amount.IsPositive() {
			return a, invariantf("customer credit applied: %s to invoice %s", al.Amount, al.InvoiceID)
		}
	}
	for id, inv := range settled {
		a.Invoices = put(a.Invoices, id, inv, &c.invoices, c.logged)
	}
	a.Credit = credit
	return a, nil
}

// creditAppliedEntry moves the credit applied off customer credit onto the invoices it
// settles: Dr 2200, Cr 1100 Amount, dated AppliedOn.
func creditAppliedEntry(e CustomerCreditApplied) (JournalEntry, error) {
	b := newLines()
	b.debit(AccountCustomerCredit, e.Amount)
	b.credit(AccountReceivable, e.Amount)
	return newJournalEntry(e.CustomerID, e.AppliedOn, memo{source: "CustomerCreditApplied", id: e.CustomerID.u}, b)
}
