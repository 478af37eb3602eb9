package domain

import (
	"cmp"
	"fmt"
	"slices"
)

// Billing is worked out day by day. Each day a service is billable (BillableOn) is billed
// exactly once, at the monthly price of the plan in force that day (PlanOn), prorated by day
// of its calendar month. What a customer has been billed for a service and period is read
// from the service lines of the customer's invoices and credit notes: each covers the days
// From..Through at one plan, once (a charge) or taken back (a credit line). The difference
// between the two, day by day and plan by plan, becomes lines: one per run of consecutive
// days at one plan and one sign, each rounded half-up to the minor unit. A period not yet
// invoiced is billed as it happened (one line per plan segment); an invoiced period is never
// rewritten, its difference is billed as adjustment lines. Either way every service-day ends
// up billed once at the plan in force that day, within a minor unit per line of rounding.

// lineLabel says how a reconciled line is described.
type lineLabel int

const (
	labelRecurring  lineLabel = iota // the period's own invoice
	labelAdjustment                  // a later correction of an invoiced period
)

// billedPlan is what the lines covering one day say about one plan: how many times it was
// billed that day (credits count negative), and at which price and tax rate.
type billedPlan struct {
	count int
	price Money
	tax   TaxRate
	name  string
}

// reconcile returns the lines that bring what lines bill of service s in period p to what s
// should be billed for p (see the comment above).
func reconcile(p Period, s ServiceState, billed []InvoiceLine, kind lineLabel) ([]LineInput, error) {
	have := make([]map[PlanCode]billedPlan, p.Days())
	for _, l := range billed {
		from, through := l.coverage(p, s)
		for d := from; !d.After(through); d = d.AddDays(1) {
			day := d.Day() - 1
			if have[day] == nil {
				have[day] = map[PlanCode]billedPlan{}
			}
			b := have[day][l.PlanCode]
			b.count += l.count()
			b.price, b.tax, b.name = l.fullPrice(), l.TaxRate, s.planName(l.PlanCode)
			have[day][l.PlanCode] = b
		}
	}
	var (
		runs  []dayRun
		units []dayUnit // each day's difference, in one array for the whole period
	)
	for day := range p.Days() {
		d := p.Start().AddDays(day)
		units = dayDifference(units[:0], d, s, have[day])
		for _, u := range units {
			runs = extendRuns(runs, u)
		}
	}
	slices.SortStableFunc(runs, func(a, b dayRun) int {
		return cmp.Or(a.from.Compare(b.from), cmp.Compare(a.count, b.count), cmp.Compare(a.code.String(), b.code.String()))
	})
	lines := make([]LineInput, 0, len(runs))
	for _, r := range runs {
		line, err := r.line(p, s.ID, kind)
		if err != nil {
			return nil, err
		}
		lines = append(lines, line)
	}
	return lines, nil
}

// dayUnit is the difference on one day for one plan: count more times to bill (negative:
// to credit), at price and tax.
type dayUnit struct {
	day   Date
	code  PlanCode
	count int
	price Money
	tax   TaxRate
	name  string
}

// dayDifference compares what day d should be billed (the plan in force if billable) with
// what was billed, plan by plan, and appends the differences to units.
func dayDifference(units []dayUnit, d Date, s ServiceState, have map[PlanCode]billedPlan) []dayUnit {
	if s.BillableOn(d) {
		plan := s.PlanOn(d)
		if n := 1 - have[plan.Code].count; n != 0 {
			units = append(units, dayUnit{day: d, code: plan.Code, count: n, price: plan.MonthlyPrice, tax: plan.TaxRate, name: plan.Name})
		}
		delete(have, plan.Code) // settled above; what is left was billed at other plans
	}
	for code, b := range have {
		if b.count != 0 {
			units = append(units, dayUnit{day: d, code: code, count: -b.count, price: b.price, tax: b.tax, name: b.name})
		}
	}
	if len(units) > 1 {
		slices.SortFunc(units, func(a, b dayUnit) int { return cmp.Compare(a.code.String(), b.code.String()) })
	}
	return units
}

// dayRun is consecutive days with the same difference at the same plan and price.
type dayRun struct {
	from, through Date
	code          PlanCode
	count         int
	price         Money
	tax           TaxRate
	name          string
}

// extendRuns adds u to the run it continues, or starts a new one.
func extendRuns(runs []dayRun, u dayUnit) []dayRun {
	for i := range runs {
		r := &runs[i]
		if r.code == u.code && r.count == u.count && r.through.AddDays(1) == u.day && r.price.Equal(u.price) && r.tax.Equal(u.tax) {
			r.through = u.day
			return runs
		}
	}
	return append(runs, dayRun{from: u.day, through: u.day, code: u.code, count: u.count, price: u.price, tax: u.tax, name: u.name})
}

// line is the invoice line of r: |count| × the price prorated over the run's days, negative
// for a credit.
func (r dayRun) line(p Period, service ServiceID, kind lineLabel) (LineInput, error) {
	days := r.from.DaysUntil(r.through) + 1
	amount, err := r.price.Prorate(days, p.Days())
	if err != nil {
		return LineInput{}, err
	}
	qty, err := ParseQuantity(fmt.Sprint(max(r.count, -r.count)))
	if err != nil {
		return LineInput{}, err
	}
	label := fmt.Sprintf("%s (%s) %s", r.name, r.code, p)
	if days < p.Days() {
		label = fmt.Sprintf("%s (%s) %s..%s, %d of %d days", r.name, r.code, r.from, r.through, days, p.Days())
	}
	if kind == labelAdjustment {
		verb := "charge"
		if r.count < 0 {
			verb = "credit"
		}
		label = fmt.Sprintf("Adjustment, %s: %s (%s) %s..%s, %d of %d days", verb, r.name, r.code, r.from, r.through, days, p.Days())
	}
	if r.count < 0 {
		amount = amount.Neg()
	}
	line := LineInput{Description: label, Quantity: qty, UnitPrice: amount, TaxRate: r.tax, PlanCode: r.code,
		ServiceID: service, Period: p, From: r.from, Through: r.through}
	if days < p.Days() {
		line.Proration = &Proration{DaysBilled: days, DaysInPeriod: p.Days(), FullPrice: r.price}
	}
	return line, nil
}

// count is how many times the line bills each day it covers: its quantity, negative for a
// credit line. Service lines have whole quantities.
func (l InvoiceLine) count() int {
	n := int(l.Quantity.Decimal().IntPart())
	if l.Net.IsNegative() || l.UnitPrice.IsNegative() {
		return -n
	}
	return n
}

// fullPrice is the monthly price the line was prorated from.
func (l InvoiceLine) fullPrice() Money {
	if l.Proration != nil {
		return l.Proration.FullPrice
	}
	return l.UnitPrice.Abs()
}

// coverage returns the days of p the line covers. Lines written before coverage was recorded
// (no From) are taken to cover as many days as their proration counts: the first days of the
// period when the service ended within it, else the last days (a service that started within
// it, or a plan change, which ran to the end of the month).
func (l InvoiceLine) coverage(p Period, s ServiceState) (Date, Date) {
	if !l.From.IsZero() {
		return l.From, l.Through
	}
	days := p.Days()
	if l.Proration != nil {
		days = l.Proration.DaysBilled
	}
	if !s.TerminatedOn.IsZero() && p.Contains(s.TerminatedOn) {
		return p.Start(), p.Start().AddDays(days - 1)
	}
	return p.End().AddDays(-days), p.LastDay()
}

// planName returns the name of the plan code the service has been on, or the code.
func (s ServiceState) planName(code PlanCode) string {
	if s.Plan.Code == code {
		return s.Plan.Name
	}
	for _, c := range s.PlanChanges {
		if c.OldPlan.Code == code {
			return c.OldPlan.Name
		}
	}
	return code.String()
}
