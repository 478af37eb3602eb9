package readmodel

import (
	"slices"

	"github.com/dotmac/ledger/domain"
)

// segment is a range of days [from, to) (to zero: open) on which a service is billable on
// one plan.
type segment struct {
	from, to domain.Date
	plan     domain.PlanSnapshot
}

// segmentsOf returns the billable ranges of s, oldest first. Billability
// (domain.ServiceState.BillableOn) and the plan in force (PlanOn) only change on the days
// billing starts, a plan change takes effect, a suspension starts or ends, and the day after
// the last day: between two of those days both are constant, so they are evaluated once per
// range. Adjacent ranges on the same plan are merged.
func segmentsOf(s domain.ServiceState) []segment {
	if s.BillingStartsOn.IsZero() {
		return nil
	}
	breaks := []domain.Date{s.BillingStartsOn}
	for _, c := range s.PlanChanges {
		breaks = append(breaks, c.EffectiveDate)
	}
	for _, r := range s.Suspensions {
		breaks = append(breaks, r.From)
		if !r.To.IsZero() {
			breaks = append(breaks, r.To)
		}
	}
	if !s.TerminatedOn.IsZero() {
		breaks = append(breaks, s.TerminatedOn.AddDays(1))
	}
	slices.SortFunc(breaks, domain.Date.Compare)
	breaks = slices.Compact(breaks)
	var segs []segment
	for i, day := range breaks {
		if !s.BillableOn(day) {
			continue
		}
		var end domain.Date
		if i+1 < len(breaks) {
			end = breaks[i+1]
		}
		plan := s.PlanOn(day)
		if n := len(segs); n > 0 && segs[n-1].to == day && samePlan(segs[n-1].plan, plan) {
			segs[n-1].to = end
			continue
		}
		segs = append(segs, segment{from: day, to: end, plan: plan})
	}
	return segs
}

func samePlan(a, b domain.PlanSnapshot) bool {
	return a.Code == b.Code && a.MonthlyPrice.Equal(b.MonthlyPrice) && a.Name == b.Name
}

// firstMonth is the first day of the first month whose last day a segment covers: the first
// month whose MRR includes the service (zero if none does yet).
func firstMonth(segs []segment) domain.Date {
	for _, g := range segs {
		last := g.from.Period().LastDay()
		if g.to.IsZero() || last.Before(g.to) {
			return g.from.Period().Start()
		}
		// The segment ends before its first month does: it covers no month end.
	}
	return domain.Date{}
}
