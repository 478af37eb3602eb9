package domainsim

import (
	"fmt"

	"github.com/dotmac/ledger/domain"
)

// creditNoteCents is the goodwill credit of an outage (10.00, see money).
const creditNoteCents = 1000

// planMonth plans the customer's month starting on first (the 1st, or the join day): its
// role's activity, now and then an occasional one, and the deactivation of a leaving
// customer whose last bill is settled.
func (l *lane) planMonth(first domain.Date) {
	day := first.AddDays(3 + l.r.IntN(10))
	if l.leaving {
		l.later(first, l.maybeLeave)
	}
	if l.role != roleNone {
		l.planRole(first, day)
		return
	}
	if l.leaving {
		return
	}
	switch n := l.r.IntN(1000); {
	case n < 20:
		l.later(day, l.creditNote(true))
	case n < 30:
		l.later(day, l.creditNote(false))
	case n < 60:
		l.later(day, l.changePlan)
	case n < 80:
		l.later(day, l.hold)
	case n < 90:
		l.later(day, l.terminateOne)
	case n < 95:
		l.later(day, l.leave)
	case n < 105:
		l.later(day, l.updateContact)
	case n < 125:
		l.later(day, l.visit(l.r.IntN(10) == 0))
	case n < 135:
		l.later(day, func(d domain.Date) error {
			return l.provisionFrom(d, l.lateDate(d, l.joinOn, lateServicePercent), l.pickPlan(1))
		})
	}
}

// creditNote credits an outage: against the newest open invoice that owes at least the credit
// (onInvoice), else against the account. Dunning then resumes what the credit cleared.
func (l *lane) creditNote(onInvoice bool) action {
	return func(d domain.Date) error {
		at := l.at(d, 13)
		net := money(creditNoteCents, l.t.currency)
		cmd := domain.IssueCreditNote{CreditNoteID: newID(l.r, at, domain.NewCreditNoteID), Net: net, Reason: "outage goodwill"}
		open := l.account.state.OpenInvoices()
		for i := len(open) - 1; i >= 0 && onInvoice; i-- {
			if c, err := net.Cmp(open[i].Outstanding); err == nil && c <= 0 {
				cmd.InvoiceID = open[i].ID
				break
			}
		}
		if _, err := l.onAccount(cmd, ActorPortal, at); err != nil {
			return err
		}
		if cmd.InvoiceID.IsZero() {
			l.rec.stats.did(ActAccountCreditNotes)
		} else {
			l.rec.stats.did(ActInvoiceCreditNotes)
		}
		return l.dun(d, 13)
	}
}

// changePlan moves the first active internet service to another internet plan on sale, from
// today or, reported late, from a few days back.
func (l *lane) changePlan(d domain.Date) error { return l.changePlanFrom(d, lateChangePercent, false) }

// changePlanFrom changes plan from d, or late (percent chance) from up to 20 days back; up
// takes only a plan dearer than the current one.
func (l *lane) changePlanFrom(d domain.Date, percent int, up bool) error {
	for _, s := range l.services {
		st := s.state
		floor := lastChangeOrStart(st)
		if st.Status != domain.ServiceStatusActive || !isInternet(st.Plan.Code) || d.Before(floor) {
			continue
		}
		var choices []domain.PlanState
		for _, p := range l.t.onSale(true) {
			dearer, _ := p.MonthlyPrice.Cmp(st.Plan.MonthlyPrice)
			if p.Code != st.Plan.Code && (!up || dearer > 0) {
				choices = append(choices, p)
			}
		}
		if len(choices) == 0 {
			return nil
		}
		cmd := domain.ChangePlan{NewPlan: choices[l.r.IntN(len(choices))], EffectiveDate: l.lateDate(d, floor, percent)}
		if err := l.onService(s, cmd, ActorPortal, l.at(d, 14)); err != nil {
			return err
		}
		l.rec.stats.did(ActPlanChanges)
		return nil
	}
	return nil
}

// hold suspends the first active service at the customer's request (a holiday) and resumes
// it one to two weeks later.
func (l *lane) hold(d domain.Date) error {
	for _, s := range l.services {
		if s.state.Status != domain.ServiceStatusActive {
			continue
		}
		if err := l.onService(s, domain.SuspendService{Reason: domain.SuspensionRequested}, ActorPortal, l.at(d, 16)); err != nil {
			return err
		}
		l.rec.stats.did(ActRequestedHolds)
		l.later(d.AddDays(6+l.r.IntN(10)), func(d domain.Date) error {
			if s.state.Status != domain.ServiceStatusSuspended || s.state.SuspensionReason != domain.SuspensionRequested {
				return nil
			}
			if err := l.onService(s, domain.ResumeService{}, ActorPortal, l.at(d, 16)); err != nil {
				return err
			}
			l.rec.stats.did(ActHoldResumptions)
			return nil
		})
		return nil
	}
	return nil
}

// terminateOne ends the first service still running, today being its last day.
func (l *lane) terminateOne(d domain.Date) error {
	for _, s := range l.services {
		if s.state.Status != domain.ServiceStatusTerminated {
			return l.terminate(s, d, "downgrade")
		}
	}
	return nil
}

// leave ends every service today: the customer is deactivated once the last bill is settled.
func (l *lane) leave(d domain.Date) error {
	for _, s := range l.services {
		if s.state.Status != domain.ServiceStatusTerminated {
			if err := l.terminate(s, d, "moving away"); err != nil {
				return err
			}
		}
	}
	return nil
}

// lastChangeOrStart is the earliest day a change of st may take effect: billing's start or
// its latest plan change, whichever is later.
func lastChangeOrStart(st domain.ServiceState) domain.Date {
	floor := st.BillingStartsOn
	if n := len(st.PlanChanges); n > 0 && st.PlanChanges[n-1].EffectiveDate.After(floor) {
		floor = st.PlanChanges[n-1].EffectiveDate
	}
	return floor
}

func (l *lane) terminate(s *stream[domain.ServiceState], d domain.Date, reason string) error {
	return l.terminateFrom(s, d, reason, lateChangePercent)
}

// terminateFrom ends s with d as its last day or, reported late (percent chance), a day up to
// 20 days back.
func (l *lane) terminateFrom(s *stream[domain.ServiceState], d domain.Date, reason string, percent int) error {
	floor := lastChangeOrStart(s.state)
	if floor.Before(s.state.StartDate) {
		floor = s.state.StartDate
	}
	last := l.lateDate(d, floor, percent)
	if err := l.onService(s, domain.TerminateService{LastDay: last, Reason: reason}, ActorPortal, l.at(d, 15)); err != nil {
		return err
	}
	l.rec.stats.did(ActTerminations)
	l.leaving = true
	for _, s := range l.services {
		l.leaving = l.leaving && s.state.Status == domain.ServiceStatusTerminated
	}
	return nil
}

// maybeLeave deactivates a leaving customer once its last month is billed and nothing is owed.
func (l *lane) maybeLeave(d domain.Date) error {
	if !l.leaving || !l.active() {
		return nil
	}
	var last domain.Date
	for _, s := range l.services {
		if s.state.TerminatedOn.After(last) {
			last = s.state.TerminatedOn
		}
	}
	balance, err := l.account.state.Balance()
	if err != nil || d.Before(last.Period().End()) || balance.IsPositive() || len(l.account.state.OpenInvoices()) > 0 {
		return err
	}
	if _, err := l.onAccount(domain.DeactivateCustomer{Reason: "moved away"}, ActorPortal, l.at(d, 17)); err != nil {
		return err
	}
	l.rec.stats.did(ActDeactivations)
	return nil
}

// updateContact gives the customer a new phone number.
func (l *lane) updateContact(d domain.Date) error {
	contact := l.account.state.Customer.Contact
	l.seq++
	contact.Phone = fmt.Sprintf("+1 555 %04d %04d", l.index%10_000, l.seq)
	if _, err := l.onAccount(domain.UpdateCustomerContact{Contact: contact}, ActorPortal, l.at(d, 15)); err != nil {
		return err
	}
	l.rec.stats.did(ActContactUpdates)
	return nil
}

// visit bills a technician visit; one raised in error (voided) is voided the same day.
func (l *lane) visit(voided bool) action {
	return func(d domain.Date) error {
		id, err := l.oneOff(d, "Technician visit", "Patch cable", 2)
		if err != nil || !voided {
			l.planPayments(d)
			return err
		}
		if l.account.state.Invoices[id].Status != domain.InvoiceStatusIssued {
			return nil // customer credit settled some of it: a credit note would be the tool
		}
		if _, err := l.onAccount(domain.VoidInvoice{InvoiceID: id, Reason: "raised in error"}, ActorPortal, l.at(d, 12)); err != nil {
			return err
		}
		l.rec.stats.did(ActVoidedInvoices)
		return nil
	}
}
