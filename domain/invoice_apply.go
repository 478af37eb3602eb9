package domain

import (
	"fmt"
	"slices"
)

// applyInvoice folds an invoice event onto one invoice. Settlement by payments, customer
// credit and credit notes goes through settle, called by the Account.
func applyInvoice(inv InvoiceState, e Event) (InvoiceState, error) {
	switch e := e.(type) {
	case InvoiceCreated:
		if !inv.ID.IsZero() {
			return inv, invariantf("invoice %s created twice", inv.ID)
		}
		zero := Zero(e.Currency)
		return InvoiceState{
			ID: e.InvoiceID, Status: InvoiceStatusDraft, Currency: e.Currency, Period: e.Period,
			Lines: slices.Clip(e.Lines), NetTotal: zero, TaxTotal: zero, Total: zero,
			Settled: zero, Credited: zero, Outstanding: zero,
		}, nil
	case InvoiceLineAdded:
		if inv.Status != InvoiceStatusDraft {
			return inv, invariantf("line added to %s invoice %s", inv.Status, inv.ID)
		}
		inv.Lines = append(slices.Clip(inv.Lines), e.Line)
		return inv, nil
	case InvoiceIssued:
		return inv.issue(e)
	case InvoiceVoided:
		if inv.Status != InvoiceStatusIssued {
			return inv, invariantf("invoice %s voided while %s", inv.ID, inv.Status)
		}
		inv.Status, inv.Outstanding = InvoiceStatusVoid, Zero(inv.Currency)
		return inv, nil
	case InvoiceMarkedOverdue:
		if !inv.IsOpen() || inv.Overdue {
			return inv, invariantf("invoice %s marked overdue while %s (overdue %t)", inv.ID, inv.Status, inv.Overdue)
		}
		inv.Overdue = true
		return inv, nil
	}
	return inv, invariantf("%s is not an invoice event", e.EventType())
}

// issue applies InvoiceIssued: the lines and totals become final, and customer credit
// settles CreditApplied of it.
func (inv InvoiceState) issue(e InvoiceIssued) (InvoiceState, error) {
	if inv.Status != InvoiceStatusDraft || e.Currency != inv.Currency {
		return inv, invariantf("invoice %s issued while %s in %s (event in %s)", inv.ID, inv.Status, inv.Currency, e.Currency)
	}
	if err := checkIssuedAmounts(e); err != nil {
		return inv, err
	}
	inv.Status, inv.Number, inv.IssueDate, inv.DueDate = InvoiceStatusIssued, e.Number, e.IssueDate, e.DueDate
	inv.Lines, inv.NetTotal, inv.TaxTotal, inv.Total = slices.Clip(e.Lines), e.NetTotal, e.TaxTotal, e.Total
	inv.Outstanding = e.Total
	return inv.settle(e.CreditApplied, false)
}

// checkIssuedAmounts requires every line of e to add up and the totals to be their sums, so
// a fold detects an issued invoice whose amounts were altered.
func checkIssuedAmounts(e InvoiceIssued) error {
	for _, l := range e.Lines {
		if !l.consistent(e.Currency) {
			return invariantf("invoice %s: line %s does not add up (%s × %s = %s, tax %s)", e.InvoiceID, l.LineID, l.Quantity, l.UnitPrice, l.Net, l.Tax)
		}
	}
	net, tax, total, err := invoiceTotals(e.Lines, e.Currency)
	if err != nil || !net.Equal(e.NetTotal) || !tax.Equal(e.TaxTotal) || !total.Equal(e.Total) {
		return invariantf("invoice %s: totals %s + %s = %s do not match its lines (%s + %s = %s)",
			e.InvoiceID, e.NetTotal, e.TaxTotal, e.Total, net, tax, total)
	}
	return nil
}

// settle takes amount off the outstanding balance, as a payment or credit
// (byCreditNote false) or as a credit note (true), and moves the status on.
func (inv InvoiceState) settle(amount Money, byCreditNote bool) (InvoiceState, error) {
	if amount.IsZero() && amount.Currency() == inv.Currency {
		return inv.withSettlementStatus(), nil
	}
	if !inv.IsOpen() || amount.IsNegative() {
		return inv, invariantf("invoice %s (%s) settled by %s", inv.ID, inv.Status, amount)
	}
	outstanding, err := inv.Outstanding.Sub(amount)
	if err != nil || outstanding.IsNegative() {
		return inv, invariantf("invoice %s: %s settled with only %s outstanding", inv.ID, amount, inv.Outstanding)
	}
	inv.Outstanding = outstanding
	if byCreditNote {
		inv.Credited, err = inv.Credited.Add(amount)
	} else {
		inv.Settled, err = inv.Settled.Add(amount)
	}
	if err != nil {
		return inv, invariantf("invoice %s: %v", inv.ID, err)
	}
	return inv.withSettlementStatus(), nil
}

// withSettlementStatus derives issued / partially_paid / paid from the amounts.
func (inv InvoiceState) withSettlementStatus() InvoiceState {
	switch {
	case inv.Outstanding.IsZero():
		inv.Status = InvoiceStatusPaid
	case inv.Settled.IsPositive() || inv.Credited.IsPositive():
		inv.Status = InvoiceStatusPartiallyPaid
	}
	return inv
}

// String describes the invoice for messages.
func (inv InvoiceState) String() string {
	return fmt.Sprintf("invoice %s (%s, outstanding %s)", inv.ID, inv.Status, inv.Outstanding)
}
