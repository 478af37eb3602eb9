package domain

import "slices"

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

// PeriodCharges returns the lines that bill period p for the services, with zero LineIDs for
// the caller to fill in (ids are generated outside the domain): for each service, one line per
// run of consecutive billable days of p at one plan (see reconcile.go), each the plan's
// monthly price prorated by day (price × days / days in p, rounded half-up; no proration for a
// whole month), labelled with the days it covers. Days of p the account has already billed for
// the service (an adjustment issued before the period's own invoice) are not billed again. A
// service that is billable on no day of p yields no line. Services must belong to the customer
// and be priced in its billing currency (*InvalidValueError, *CurrencyMismatchError).
func PeriodCharges(p Period, a AccountState, services []ServiceState) ([]LineInput, error) {
	return charges(p, a, services, false)
}

// RecurringCharges returns the lines of the customer's recurring invoice for period p: for
// each service, first the months before p it was never billed for at all (a service
// back-dated into a month whose billing run had already passed the customer by), as
// adjustment lines, then p's own lines (PeriodCharges). Months billed before are corrected at
// once when they change (AdjustBilling), so they are not looked at again here.
func RecurringCharges(p Period, a AccountState, services []ServiceState) ([]LineInput, error) {
	return charges(p, a, services, true)
}

func charges(p Period, a AccountState, services []ServiceState, catchUp bool) ([]LineInput, error) {
	if p.IsZero() {
		return nil, invalid("period", "", "missing")
	}
	billed := a.billedLines()
	var lines []LineInput
	for _, s := range services {
		if err := a.checkService(s); err != nil {
			return nil, err
		}
		s = a.billedHere(s)
		if catchUp {
			earlier, err := unbilledBefore(p, s, billed)
			if err != nil {
				return nil, err
			}
			lines = append(lines, earlier...)
		}
		own, err := reconcile(p, s, billed[serviceMonth{s.ID, p}], labelRecurring)
		if err != nil {
			return nil, err
		}
		lines = append(lines, own...)
	}
	return lines, nil
}

// unbilledBefore returns the adjustment lines of the months before p that s was never billed
// for at all.
func unbilledBefore(p Period, s ServiceState, billed map[serviceMonth][]InvoiceLine) ([]LineInput, error) {
	if s.StartDate.IsZero() {
		return nil, nil
	}
	var lines []LineInput
	for q := s.StartDate.Period(); q.Compare(p) < 0; q = q.Next() {
		if len(billed[serviceMonth{s.ID, q}]) > 0 {
			continue
		}
		adj, err := reconcile(q, s, nil, labelAdjustment)
		if err != nil {
			return nil, err
		}
		lines = append(lines, adj...)
	}
	return lines, nil
}

// Adjustments returns the lines that correct what the account has billed for the services
// in every period up to the latest period it has a recurring invoice for, with zero LineIDs:
// credits for days billed that should not have been (a termination, a suspension of a plan
// that does not bill while suspended, a plan change back-dated into an invoiced month) and
// charges for days not billed that should have been (a service back-dated into an invoiced
// month, the new plan of such a change). None when everything billed is right. Periods after
// the latest invoiced one are left to their own recurring invoices.
func Adjustments(a AccountState, services []ServiceState) ([]LineInput, error) {
	latest := a.latestBilledPeriod()
	if latest.IsZero() {
		return nil, nil
	}
	billed := a.billedLines()
	var lines []LineInput
	for _, s := range services {
		if err := a.checkService(s); err != nil {
			return nil, err
		}
		s = a.billedHere(s)
		if s.StartDate.IsZero() {
			continue
		}
		for p := s.StartDate.Period(); p.Compare(latest) <= 0; p = p.Next() {
			adj, err := reconcile(p, s, billed[serviceMonth{s.ID, p}], labelAdjustment)
			if err != nil {
				return nil, err
			}
			lines = append(lines, adj...)
		}
	}
	return lines, nil
}

// billedHere returns s as this ledger bills it: an opening balance moved over from another
// system (RecordOpeningBalance) settles every day up to its date, so billing starts the day
// after it at the earliest; those days are neither charged nor credited here.
func (a AccountState) billedHere(s ServiceState) ServiceState {
	if a.OpeningAsOf.IsZero() || s.BillingStartsOn.IsZero() || s.BillingStartsOn.After(a.OpeningAsOf) {
		return s
	}
	s.BillingStartsOn = a.OpeningAsOf.AddDays(1)
	return s
}

// checkService requires s to belong to the account's customer and be priced in its currency.
func (a AccountState) checkService(s ServiceState) error {
	if s.Customer != a.Customer.ID {
		return invalid("service", s.ID.String(), "belongs to customer "+s.Customer.String())
	}
	if cur := s.Plan.MonthlyPrice.Currency(); cur != a.Customer.Currency {
		return &CurrencyMismatchError{Want: a.Customer.Currency, Got: cur}
	}
	return nil
}

// serviceMonth keys the lines billed for one service in one period.
type serviceMonth struct {
	service ServiceID
	period  Period
}

// billedLines returns the service lines of every issued invoice (voided ones too: a void
// takes the invoice back, not the decision about those days) and every credit note, by
// service and period.
func (a AccountState) billedLines() map[serviceMonth][]InvoiceLine {
	out := map[serviceMonth][]InvoiceLine{}
	add := func(lines []InvoiceLine) {
		for _, l := range lines {
			if !l.ServiceID.IsZero() && !l.Period.IsZero() {
				k := serviceMonth{l.ServiceID, l.Period}
				out[k] = append(out[k], l)
			}
		}
	}
	for _, inv := range a.Invoices {
		if inv.Status != InvoiceStatusDraft {
			add(inv.Lines)
		}
	}
	for _, cn := range a.CreditNotes {
		add(cn.Lines)
	}
	return out
}

// latestBilledPeriod is the latest period the account has a recurring invoice for.
func (a AccountState) latestBilledPeriod() Period {
	var latest Period
	for p := range a.BilledPeriods {
		if latest.IsZero() || p.Compare(latest) > 0 {
			latest = p
		}
	}
	return latest
}
