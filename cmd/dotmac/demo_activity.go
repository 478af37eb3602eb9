package main

import (
	"context"
	"errors"

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
func (c *customerSim) planPayments(p domain.Period, first domain.Date, plan map[domain.Date][]action) {
	on := func(from, spread int, hour int, part decimal.Decimal, counter func()) {
		day := first.AddDays(from + c.r.IntN(spread))
		if last := p.LastDay(); day.After(last) {
			day = last
		}
		plan[day] = append(plan[day], func(ctx context.Context, d domain.Date) error {
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
		if c.r.IntN(100) < 60 {
			c.s.stats.missedPayments.Add(1)
			return
		}
		on(20, 8, 16, fullPayment, func() { c.s.stats.latePayments.Add(1) })
	}
}

// planExtras schedules, now and then, a credit note, a refund of credit, a plan change, a
// requested hold (suspended on request, resumed a week later) or a termination.
func (c *customerSim) planExtras(p domain.Period, first domain.Date, plan map[domain.Date][]action) {
	day := first.AddDays(3 + c.r.IntN(10))
	if day.After(p.LastDay()) {
		return
	}
	var a action
	switch n := c.r.IntN(100); {
	case n < 3:
		a = c.creditNote
	case n < 5:
		a = c.refund
	case n < 8:
		a = c.changePlan
	case n < 9:
		a = c.terminate
	case n < 11:
		if back := day.AddDays(6 + c.r.IntN(4)); !back.After(p.LastDay()) {
			a = c.hold
			plan[back] = append(plan[back], c.endHold)
		}
	}
	if a != nil {
		plan[day] = append(plan[day], a)
	}
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
		next := c.s.plans[c.r.IntN(3)]
		if next.Code == st.Plan.Code {
			return nil
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
