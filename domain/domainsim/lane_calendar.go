package domainsim

import (
	"time"

	"github.com/dotmac/ledger/domain"
)

// The billing calendar in a simulation: some changes are reported late (back-dated, often into
// a month already billed), a few services start before they are entered, some customers move
// over from another system with an opening balance, and after every change that can move
// billed days the command side issues the billing adjustment at once (AdjustBilling).

// Chances, in percent, of the calendar's activities.
const (
	lateChangePercent     = 35 // a plan change or a termination reported 1-20 days late
	lateServicePercent    = 10 // a service added later with a start date 1-20 days back
	openingBalancePercent = 8  // a customer joins with a balance from another system
)

// adjust issues the customer's billing adjustment at at, when a change moved billed days.
func (l *lane) adjust(at time.Time) error {
	lines, err := domain.Adjustments(l.account.state, l.serviceStates())
	if err != nil || len(lines) == 0 {
		return err
	}
	for i := range lines {
		lines[i].LineID = newID(l.r, at, domain.NewLineID)
	}
	cmd := domain.AdjustBilling{InvoiceID: newID(l.r, at, domain.NewInvoiceID), CreditNoteID: newID(l.r, at, domain.NewCreditNoteID),
		Number: l.number("A"), DueDate: domain.DateOf(at).AddDays(DueDays), Lines: lines}
	evs, err := l.onAccount(cmd, ActorAdjustment, at)
	if err != nil {
		return err
	}
	for _, e := range evs {
		switch e.(type) {
		case domain.InvoiceIssued:
			l.rec.stats.did(ActSupplementaryInvoices)
			l.planPayments(domain.DateOf(at))
		case domain.CreditNoteIssued:
			l.rec.stats.did(ActAdjustmentCreditNotes)
		}
	}
	return nil
}

// lateDate returns d moved back 1 to 20 days when the change is reported late (not before
// floor), else d.
func (l *lane) lateDate(d, floor domain.Date, percent int) domain.Date {
	if l.r.IntN(100) >= percent {
		return d
	}
	back := d.AddDays(-1 - l.r.IntN(20))
	if back.Before(floor) {
		return d
	}
	l.rec.stats.did(ActLateChanges)
	return back
}

// openingBalance records, for a customer moved over from another system, what it owed (or
// was owed, always when owed) the day before it joined.
func (l *lane) openingBalance(d domain.Date, force, owed bool) error {
	if !force && l.r.IntN(100) >= openingBalancePercent {
		return nil
	}
	at := l.at(d, 9)
	cents := int64(500 + l.r.IntN(20_000))
	if l.r.IntN(3) == 0 || owed {
		cents = -cents
	}
	cmd := domain.RecordOpeningBalance{InvoiceID: newID(l.r, at, domain.NewInvoiceID), Amount: money(cents, l.t.currency), AsOf: d.AddDays(-1)}
	if _, err := l.onAccount(cmd, ActorPortal, at); err != nil {
		return err
	}
	l.rec.stats.did(ActOpeningBalances)
	if cents > 0 {
		l.planPayments(d)
	}
	return nil
}
