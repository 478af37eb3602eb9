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
//   - one line for the days of p the service is billable (see BillableOn), prorated by day
//     when that is fewer than all days of p (first and last months): price × days / days in
//     p, rounded half-up. The price is that of the plan the period opened with: the plan in
//     force before the first change taking effect in p, or else the plan of the first
//     billable day;
//   - for each plan change taking effect in p, a credit line at the old plan's price and a
//     charge line at the new plan's price, each for the billable days from the change to the
//     end of p. When all those days are billable (the normal case) the amounts are exactly
//     the ServicePlanChanged event's ProrationCredit and ProrationCharge; a later
//     termination or unbilled suspension in the same month shortens both.
//
// Together the lines bill every billable day at the plan in force that day. A service that
// is billable on no day of p yields no line. Services must belong to the customer and be
// priced in its billing currency (*InvalidValueError, *CurrencyMismatchError).
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
	if days, first := billableDays(p, p.Start(), s); days > 0 {
		line, err := baseCharge(p, s.ID, s.openingPlan(p, first), days)
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	for _, c := range s.PlanChanges {
		if !p.Contains(c.EffectiveDate) {
			continue
		}
		if days, _ := billableDays(p, c.EffectiveDate, s); days > 0 {
			change, err := planChangeLines(p, s.ID, c, days)
			if err != nil {
				return nil, err
			}
			lines = append(lines, change...)
		}
	}
	return lines, nil
}

// openingPlan is the plan the period's base line is priced at: the old plan of the first
// change taking effect in p (the changes are settled by their own lines), or else the plan
// in force on day.
func (s ServiceState) openingPlan(p Period, day Date) PlanSnapshot {
	for _, c := range s.PlanChanges {
		if p.Contains(c.EffectiveDate) {
			return c.OldPlan
		}
	}
	return s.PlanOn(day)
}

// billableDays counts the billable days of p from day from on, and returns the first.
func billableDays(p Period, from Date, s ServiceState) (days int, first Date) {
	for d := from; d.Before(p.End()); d = d.AddDays(1) {
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

// planChangeLines are the credit (old plan) and charge (new plan) lines of a plan change for
// days billable days from its effective date.
func planChangeLines(p Period, service ServiceID, c ServicePlanChanged, days int) ([]LineInput, error) {
	line := func(label string, plan PlanSnapshot) (LineInput, error) {
		amount, err := plan.MonthlyPrice.Prorate(days, p.Days())
		return LineInput{
			Description: fmt.Sprintf("%s: %s (%s) %d of %d days from %s", label, plan.Name, plan.Code, days, p.Days(), c.EffectiveDate),
			Quantity:    QuantityOne(), UnitPrice: amount, TaxRate: plan.TaxRate, ServiceID: service, PlanCode: plan.Code, Period: p,
			Proration: &Proration{DaysBilled: days, DaysInPeriod: p.Days(), FullPrice: plan.MonthlyPrice},
		}, err
	}
	credit, err := line("Plan change credit", c.OldPlan)
	if err != nil {
		return nil, err
	}
	credit.UnitPrice = credit.UnitPrice.Neg()
	charge, err := line("Plan change charge", c.NewPlan)
	return []LineInput{credit, charge}, err
}
