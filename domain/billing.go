package domain

import (
	"fmt"
	"slices"
)

// PlanOn returns the plan in force on day d: the current plan, or the old plan of every
// change that took effect after d.
func (s ServiceState) PlanOn(d Date) PlanSnapshot {
	plan := s.Plan
	for i := len(s.PlanChanges) - 1; i >= 0 && d.Before(s.PlanChanges[i].EffectiveDate); i-- {
		plan = s.PlanChanges[i].OldPlan
	}
	return plan
}

// SuspendedOn reports whether the service was suspended on day d.
func (s ServiceState) SuspendedOn(d Date) bool {
	return slices.ContainsFunc(s.Suspensions, func(r DateRange) bool { return r.Contains(d) })
}

// BillableOn reports whether day d is billed: billing had started (activation, not before
// the start date), the service had not ended (d is not after TerminatedOn), and it was not
// suspended that day unless the plan in force bills while suspended.
func (s ServiceState) BillableOn(d Date) bool {
	switch {
	case s.BillingStartsOn.IsZero() || d.Before(s.BillingStartsOn):
		return false
	case !s.TerminatedOn.IsZero() && d.After(s.TerminatedOn):
		return false
	case s.SuspendedOn(d):
		return s.PlanOn(d).BillWhileSuspended
	}
	return true
}

// RecurringCharges returns the lines of the customer's recurring invoice for period p, with
// zero LineIDs for the caller to fill in (ids are generated outside the domain). For each
// service:
//
//   - one line for the days of p the service is billable (see BillableOn), at the price of
//     the plan in force on the first of those days, prorated by day when it is fewer than all
//     days of p: price × days / days in p, rounded half-up (first and last months);
//   - for each plan change effective in p, a credit line (the old plan's unused days) and a
//     charge line (the new plan's remaining days), with the amounts recorded on the
//     ServicePlanChanged event.
//
// A service that is billable on no day of p and has no change in p yields no line. Services
// must belong to the customer and be priced in its billing currency (*InvalidValueError,
// *CurrencyMismatchError).
func RecurringCharges(p Period, customer CustomerState, services []ServiceState) ([]LineInput, error) {
	if p.IsZero() {
		return nil, invalid("period", "", "missing")
	}
	var lines []LineInput
	for _, s := range services {
		if s.Customer != customer.ID {
			return nil, invalid("service", s.ID.String(), "belongs to customer "+s.Customer.String())
		}
		if cur := s.Plan.MonthlyPrice.Currency(); cur != customer.Currency {
			return nil, &CurrencyMismatchError{Want: customer.Currency, Got: cur}
		}
		charges, err := serviceCharges(p, s)
		if err != nil {
			return nil, err
		}
		lines = append(lines, charges...)
	}
	return lines, nil
}

func serviceCharges(p Period, s ServiceState) ([]LineInput, error) {
	var lines []LineInput
	if days, first := billableDays(p, s); days > 0 {
		line, err := baseCharge(p, s.ID, s.PlanOn(first), days)
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	for _, c := range s.PlanChanges {
		if p.Contains(c.EffectiveDate) {
			lines = append(lines, planChangeLines(s.ID, c)...)
		}
	}
	return lines, nil
}

// billableDays counts the billable days of p and returns the first of them.
func billableDays(p Period, s ServiceState) (days int, first Date) {
	for d := p.Start(); d.Before(p.End()); d = d.AddDays(1) {
		if s.BillableOn(d) {
			if days == 0 {
				first = d
			}
			days++
		}
	}
	return days, first
}

// baseCharge is the line for days billable days of plan in p.
func baseCharge(p Period, service ServiceID, plan PlanSnapshot, days int) (LineInput, error) {
	amount, err := plan.MonthlyPrice.Prorate(days, p.Days())
	if err != nil {
		return LineInput{}, err
	}
	line := LineInput{
		Description: fmt.Sprintf("%s (%s) %s", plan.Name, plan.Code, p), Quantity: QuantityOne(),
		UnitPrice: amount, TaxRate: plan.TaxRate, ServiceID: service, PlanCode: plan.Code, Period: p,
	}
	if days < p.Days() {
		line.Description += fmt.Sprintf(", %d of %d days", days, p.Days())
		line.Proration = &Proration{DaysBilled: days, DaysInPeriod: p.Days(), FullPrice: plan.MonthlyPrice}
	}
	return line, nil
}

// planChangeLines are the credit and charge lines of a plan change.
func planChangeLines(service ServiceID, c ServicePlanChanged) []LineInput {
	p := c.EffectiveDate.Period()
	days := fmt.Sprintf("%d of %d days from %s", c.DaysRemaining, c.DaysInPeriod, c.EffectiveDate)
	line := func(label string, plan PlanSnapshot, amount Money) LineInput {
		return LineInput{
			Description: fmt.Sprintf("%s: %s (%s) %s", label, plan.Name, plan.Code, days), Quantity: QuantityOne(),
			UnitPrice: amount, TaxRate: plan.TaxRate, ServiceID: service, PlanCode: plan.Code, Period: p,
			Proration: &Proration{DaysBilled: c.DaysRemaining, DaysInPeriod: c.DaysInPeriod, FullPrice: plan.MonthlyPrice},
		}
	}
	return []LineInput{
		line("Plan change credit", c.OldPlan, c.ProrationCredit.Neg()),
		line("Plan change charge", c.NewPlan, c.ProrationCharge),
	}
}
