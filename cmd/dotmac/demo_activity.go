package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

var (
	fullPayment = decimal.NewFromInt(1)
	halfPayment = decimal.New(5, -1)
)

// planPayments schedules the month's payments by the customer's habit; first is the day the
// month's invoice was issued (the 1st, or the join day). Invoices are due 14 days after issue.
func (c *customerSim) planPayments(month int, first domain.Date) {
	on := func(from, spread int, hour int, part decimal.Decimal, counter func()) {
		day := first.AddDays(from + c.r.IntN(spread))
		if last := c.period.LastDay(); day.After(last) {
			day = last
		}
		c.later(day, func(ctx context.Context, d domain.Date) error {
			paid, err := c.pay(ctx, d, hour, part)
			if paid && counter != nil {
				counter()
			}
			return err
		})
	}
	switch c.payer {
	case payerOnTime:
		on(1, 10, 10, fullPayment, nil)
	case payerLate:
		on(15, 12, 14, fullPayment, func() { c.s.stats.latePayments.Add(1) })
	case payerPartial:
		on(1, 8, 10, halfPayment, func() { c.s.stats.partialPayments.Add(1) })
		on(17, 9, 15, fullPayment, func() { c.s.stats.latePayments.Add(1) })
	case payerMissing:
		if c.r.IntN(100) < 60 || c.role == roleSkip && month == c.joinMonth {
			c.s.stats.missedPayments.Add(1)
			return
		}
		on(20, 8, 16, fullPayment, func() { c.s.stats.latePayments.Add(1) })
	}
}

// role is an activity a customer is sure to show, so that even a small demo has every kind.
type role int

const (
	roleNone        role = iota
	roleSkip             // a missing payer who skips the join month: overdue, suspended, resumed
	roleCreditNote       // a credit note in the second month
	roleHold             // a requested hold in the second month
	rolePlanChange       // a plan change in the second month
	roleRefund           // overpays in the second month and has the excess refunded
	roleTermination      // ends a service in the last month
)

// roleOf gives the first few customers of every twenty a role; the others act at random.
func roleOf(index int) role {
	switch index % 20 {
	case 2:
		return roleSkip
	case 4:
		return roleCreditNote
	case 5:
		return roleHold
	case 6:
		return rolePlanChange
	case 7:
		return roleRefund
	case 8:
		return roleTermination
	}
	return roleNone
}

// planExtras schedules, now and then (or as the customer's role says), a credit note, a plan
// change, a requested hold (suspended on request, resumed a week later) or a termination.
func (c *customerSim) planExtras(month int, first domain.Date) {
	day := first.AddDays(3 + c.r.IntN(10))
	if day.After(c.period.LastDay()) {
		return
	}
	n := c.r.IntN(100)
	switch {
	case month == c.joinMonth+1 && c.role == roleCreditNote, n < 3:
		c.later(day, c.creditNote)
	case month == c.joinMonth+1 && c.role == rolePlanChange, n < 6:
		c.later(day, c.changePlan)
	case month == c.s.cfg.months-1 && c.role == roleTermination, n < 7:
		c.later(day, c.terminate)
	case month == c.joinMonth+1 && c.role == roleHold, n < 9:
		c.later(day, c.hold)
		back := day.AddDays(6 + c.r.IntN(4))
		if last := c.period.LastDay(); back.After(last) {
			back = last
		}
		c.later(back, c.endHold)
	case month == c.joinMonth+1 && c.role == roleRefund:
		c.roleDone = false // the next payment overpays
	}
}

// pay records a payment of part (0 < part <= 1) of the balance on day d at hour, then lets
// dunning resume what the payment cleared (as the dunning manager does on PaymentRecorded).
func (c *customerSim) pay(ctx context.Context, d domain.Date, hour int, part decimal.Decimal) (bool, error) {
	balance, err := c.account.Balance()
	if err != nil || !balance.IsPositive() {
		return false, err
	}
	amount := balance.Mul(part)
	overpay, refundLater := c.r.IntN(100) < 3 || c.role == roleRefund && !c.roleDone, false
	if overpay {
		if amount, err = amount.Add(domain.MoneyFromMinorUnits(500, c.s.cfg.currency)); err != nil {
			return false, err
		}
		c.s.stats.overpayments.Add(1)
		refundLater = c.role == roleRefund || c.r.IntN(2) == 0 // half ask for the excess back
		c.roleDone = true
	}
	if !amount.IsPositive() {
		return false, nil
	}
	methods := []domain.PaymentMethod{domain.PaymentMethodCard, domain.PaymentMethodDirectDebit, domain.PaymentMethodBankTransfer, domain.PaymentMethodMobileMoney, domain.PaymentMethodCash}
	at := c.at(d, hour)
	m := c.s.meta(at)
	res, err := c.s.h.RecordPayment(ctx, m, commands.RecordPayment{CustomerID: c.id, Amount: amount,
		Method: methods[c.r.IntN(len(methods))], ExternalReference: fmt.Sprintf("PSP-%d-%s", c.index, m.CommandID.String()[24:]),
		ReceivedAt: at.Add(-time.Duration(1+c.r.IntN(120)) * time.Minute)})
	if err != nil {
		return false, err
	}
	c.s.stats.payments.Add(1)
	if err := c.foldAccount(res); err != nil {
		return false, err
	}
	if err := c.dun(ctx, m.CommandID, at.Add(time.Minute)); err != nil {
		return false, err
	}
	if !refundLater {
		return true, nil
	}
	back := d.AddDays(2 + c.r.IntN(4))
	if back.After(c.period.LastDay()) {
		return true, c.refund(ctx, d) // the month ends: refund the same day
	}
	c.later(back, c.refund)
	return true, nil
}

// creditNote credits 10.00 of goodwill (an outage) against the newest open invoice that owes
// at least that, or against the account.
func (c *customerSim) creditNote(ctx context.Context, d domain.Date) error {
	net := domain.MoneyFromMinorUnits(1000, c.s.cfg.currency)
	cmd := commands.IssueCreditNote{CustomerID: c.id, Net: net, Reason: "outage goodwill"}
	if open := c.account.OpenInvoices(); len(open) > 0 {
		inv := open[len(open)-1]
		if cmp, err := net.Cmp(inv.Outstanding); err == nil && cmp <= 0 {
			cmd.InvoiceID = inv.ID
		}
	}
	at := c.at(d, 13)
	m := c.s.meta(at)
	res, err := c.s.h.IssueCreditNote(ctx, m, cmd)
	if err != nil {
		return err
	}
	c.s.stats.creditNotes.Add(1)
	if err := c.foldAccount(res); err != nil {
		return err
	}
	return c.dun(ctx, m.CommandID, at)
}

// refund pays customer credit back against a payment that covers it.
func (c *customerSim) refund(ctx context.Context, d domain.Date) error {
	if !c.account.Credit.IsPositive() {
		return nil
	}
	for _, pay := range c.account.Payments {
		if cmp, err := pay.Refundable.Cmp(c.account.Credit); err != nil || cmp < 0 {
			continue
		}
		res, err := c.s.h.RefundPayment(ctx, c.s.meta(c.at(d, 13)), commands.RefundPayment{CustomerID: c.id,
			PaymentID: pay.ID, Amount: c.account.Credit, Reason: "overpayment returned"})
		if err != nil {
			return err
		}
		c.s.stats.refunds.Add(1)
		return c.foldAccount(res)
	}
	return nil
}

// changePlan moves the first active internet service to another internet plan from today.
func (c *customerSim) changePlan(ctx context.Context, d domain.Date) error {
	for _, s := range c.services {
		st := s.state
		if st.Status != domain.ServiceStatusActive || d.Before(st.BillingStartsOn) || st.Plan.Code.String() == "voip" {
			continue
		}
		next := c.s.plans[c.r.IntN(3)] // another internet plan
		if next.Code == st.Plan.Code {
			next = c.s.plans[(c.r.IntN(2)+1+planIndex(c.s.plans, st.Plan.Code))%3]
		}
		res, err := c.s.h.ChangePlan(ctx, c.s.meta(c.at(d, 14)), commands.ChangePlan{ServiceID: s.id, PlanCode: next.Code, EffectiveDate: d})
		if refused(err) {
			return nil // a change took effect later this month already
		}
		if err != nil {
			return err
		}
		c.s.stats.planChanges.Add(1)
		return c.foldService(res)
	}
	return nil
}

// planIndex is the index of code among plans (0 if absent).
func planIndex(plans []domain.PlanState, code domain.PlanCode) int {
	for i, p := range plans {
		if p.Code == code {
			return i
		}
	}
	return 0
}

// terminate ends one service (the customer moved away).
func (c *customerSim) terminate(ctx context.Context, d domain.Date) error {
	for _, s := range c.services {
		if s.state.Status == domain.ServiceStatusTerminated || d.Before(s.state.StartDate) {
			continue
		}
		res, err := c.s.h.TerminateService(ctx, c.s.meta(c.at(d, 15)), commands.TerminateService{ServiceID: s.id, LastDay: d, Reason: "moved away"})
		if refused(err) {
			return nil
		}
		if err != nil {
			return err
		}
		c.s.stats.terminations.Add(1)
		return c.foldService(res)
	}
	return nil
}

// hold suspends an active service at the customer's request (a holiday).
func (c *customerSim) hold(ctx context.Context, d domain.Date) error {
	for _, s := range c.services {
		if s.state.Status != domain.ServiceStatusActive {
			continue
		}
		res, err := c.s.h.SuspendService(ctx, c.s.meta(c.at(d, 16)), commands.SuspendService{ServiceID: s.id, Reason: domain.SuspensionRequested})
		if err != nil {
			return err
		}
		c.s.stats.holds.Add(1)
		return c.foldService(res)
	}
	return nil
}

// endHold resumes the services suspended on request.
func (c *customerSim) endHold(ctx context.Context, d domain.Date) error {
	for _, s := range c.services {
		if s.state.Status != domain.ServiceStatusSuspended || s.state.SuspensionReason != domain.SuspensionRequested {
			continue
		}
		res, err := c.s.h.ResumeService(ctx, c.s.meta(c.at(d, 16)), commands.ResumeService{ServiceID: s.id})
		if err != nil {
			return err
		}
		c.s.stats.holdResumes.Add(1)
		if err := c.foldService(res); err != nil {
			return err
		}
	}
	return nil
}

// refused reports a domain refusal the simulation may meet by chance (a date not allowed).
func refused(err error) bool {
	var notAllowed *domain.DateNotAllowedError
	return errors.As(err, &notAllowed)
}
