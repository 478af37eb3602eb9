package domainsim

import (
	"fmt"
	"time"

	"github.com/dotmac/ledger/domain"
)

// day simulates day d of the customer: joining on its join day, then the overdue
// scheduler and the dunning sweep, then what the agenda holds for d.
func (l *lane) day(d domain.Date) error {
	switch {
	case d == l.joinOn:
		if err := l.join(d); err != nil {
			return err
		}
	case !l.active():
		return nil
	case d.Day() == 1:
		l.planMonth(d)
	}
	if err := l.scheduler(d); err != nil {
		return err
	}
	for i := 0; i < len(l.agenda[d]); i++ { // an action may schedule more for today
		if err := l.agenda[d][i](d); err != nil {
			return err
		}
	}
	delete(l.agenda, d)
	return nil
}

// bill generates the customer's recurring invoice of period p at the billing run's instant,
// when the customer is active and has something billable in p.
func (l *lane) bill(p domain.Period, at time.Time) error {
	l.billed = domain.InvoiceID{}
	if !l.active() {
		return nil
	}
	lines, err := domain.RecurringCharges(p, l.account.state, l.serviceStates())
	if err != nil || len(lines) == 0 {
		return err
	}
	if !at.After(l.clock) {
		at = l.clock.Add(time.Second)
	}
	l.clock = at
	for i := range lines {
		lines[i].LineID = newID(l.r, at, domain.NewLineID)
	}
	cmd := domain.GenerateRecurringInvoice{InvoiceID: newID(l.r, at, domain.NewInvoiceID), Period: p,
		Number: l.number("R"), DueDate: domain.DateOf(at).AddDays(DueDays), Lines: lines}
	if _, err := l.onAccount(cmd, ActorBilling, at); err != nil {
		return err
	}
	l.billed = l.account.state.BilledPeriods[p]
	l.rec.stats.did(ActRecurringInvoices)
	l.planPayments(domain.DateOf(at))
	return nil
}

// number returns the next invoice number of the customer: unique in the tenant.
func (l *lane) number(prefix string) string {
	l.seq++
	return fmt.Sprintf("%s-%06d-%04d", prefix, l.index, l.seq)
}

// scheduler does what the overdue scheduler and the dunning sweep do for the customer on
// day d: mark invoices past their due date, then apply the dunning policy.
func (l *lane) scheduler(d domain.Date) error {
	if !l.mustSweep(d) {
		return nil
	}
	defer func() { l.swept = true }()
	for _, inv := range l.account.state.OpenInvoices() {
		if inv.Overdue || !d.After(inv.DueDate) {
			continue
		}
		if _, err := l.onAccount(domain.MarkInvoiceOverdue{InvoiceID: inv.ID}, ActorOverdue, l.at(d, 6)); err != nil {
			return err
		}
		l.rec.stats.did(ActOverdueMarks)
	}
	return l.dun(d, 7)
}

// dun applies the dunning policy at hour of day d: SuspendService(non_payment) or
// ResumeService for each service domain.DunningDecide names.
func (l *lane) dun(d domain.Date, hour int) error {
	balance, err := l.account.state.Balance()
	if err != nil {
		return err
	}
	in := domain.DunningInput{Now: d.Time().Add(time.Duration(hour) * time.Hour), GraceDays: l.sim.cfg.graceDays,
		Balance: balance, Invoices: l.account.state.DunningInvoices()}
	for _, s := range l.services {
		in.Services = append(in.Services, s.state.DunningService())
	}
	decision, err := domain.DunningDecide(in)
	if err != nil || len(decision.Suspend)+len(decision.Resume) == 0 {
		return err
	}
	at := l.at(d, hour)
	for _, id := range decision.Suspend {
		if err := l.onService(l.serviceByID(id), domain.SuspendService{Reason: domain.SuspensionNonPayment}, ActorDunning, at); err != nil {
			return err
		}
		l.rec.stats.did(ActDunningSuspensions)
	}
	for _, id := range decision.Resume {
		if err := l.onService(l.serviceByID(id), domain.ResumeService{}, ActorDunning, at); err != nil {
			return err
		}
		l.rec.stats.did(ActDunningResumptions)
	}
	return nil
}
