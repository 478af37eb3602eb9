package domain_test

import (
	"slices"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"

	"github.com/dotmac/ledger/domain"
)

// Revenue conservation: for random service timelines (back-dated provisioning, activations,
// suspensions of plans that bill while suspended and of plans that do not, plan changes,
// terminations), sent in random order relative to the billing runs, with the billing
// adjustment issued after every change, each service-day ends up billed exactly once at the
// price of the plan in force that day: per service and month, what every invoice and credit
// note bills differs from the exact sum of the days by at most half a minor unit per line.
func TestRevenueConservation(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		k := newLedger(t)
		k.plans["tv"] = plan(definePlan("tv", "TV", "18.75", "0", true)) // bills while suspended
		periods := []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06"}
		var ops []func()
		for n := 1; n <= rapid.IntRange(1, 3).Draw(t, "services"); n++ {
			ops = append(ops, serviceTimeline(t, k, n)...)
		}
		// Interleave the runs, in order, at random places among the service commands (whose
		// own order is kept: a resumption follows its suspension).
		runAt := make([]int, len(periods))
		for i := range runAt {
			runAt[i] = rapid.IntRange(0, len(ops)).Draw(t, "run position")
		}
		slices.Sort(runAt)
		next := 0
		for i := 0; i <= len(ops); i++ {
			for next < len(periods) && runAt[next] == i {
				k.runIfBillable(periods[next])
				next++
			}
			if i < len(ops) {
				ops[i]()
				k.adjust()
			}
		}
		checkConservation(t, k, periods)
	})
}

// serviceTimeline returns the commands of service n, each deciding one step of a random but
// valid timeline (a refused step is skipped: the property holds for what was accepted).
func serviceTimeline(t *rapid.T, k *ledger, n int) []func() {
	codes := []string{"home_50", "home_200", "biz_500", "tv"}
	start := date("2026-01-01").AddDays(rapid.IntRange(0, 150).Draw(t, "start"))
	code := rapid.SampledFrom(codes).Draw(t, "plan")
	ops := []func(){func() {
		k.try(n, domain.ProvisionService{ServiceID: serviceID(n), Customer: k.state().Customer, Plan: k.plans[code],
			StartDate: start, InstallAddress: homeAddress})
		k.try(n, domain.ActivateService{On: start})
	}}
	day := start
	for range rapid.IntRange(0, 4).Draw(t, "changes") {
		day = day.AddDays(rapid.IntRange(1, 40).Draw(t, "gap"))
		on := day
		switch rapid.IntRange(0, 3).Draw(t, "change") {
		case 0:
			to := k.plans[rapid.SampledFrom(codes).Draw(t, "new plan")]
			ops = append(ops, func() { k.try(n, domain.ChangePlan{NewPlan: to, EffectiveDate: on}) })
		case 1:
			back := on.AddDays(rapid.IntRange(1, 20).Draw(t, "suspended days"))
			day = back
			ops = append(ops, func() {
				k.try(n, domain.SuspendService{Reason: domain.SuspensionRequested, On: on})
				k.try(n, domain.ResumeService{On: back})
			})
		case 2:
			ops = append(ops, func() { k.try(n, domain.SuspendService{Reason: domain.SuspensionNonPayment, On: on}) })
		default:
			ops = append(ops, func() { k.try(n, domain.TerminateService{LastDay: on}) })
		}
	}
	return ops
}

// try decides cmd on service n, skipping it when the domain refuses it.
func (l *ledger) try(n int, cmd domain.ServiceCommand) {
	evs, err := domain.DecideService(must(domain.FoldService(l.services[n])), cmd, l.tick())
	if err != nil {
		if !isDomainError(err) {
			l.t.Fatalf("service %d %T: %v", n, cmd, err)
		}
		return
	}
	l.services[n] = append(l.services[n], evs...)
}

// runIfBillable bills period p unless nothing is billable in it.
func (l *ledger) runIfBillable(p string) {
	lines, err := domain.RecurringCharges(period(p), l.state(), l.serviceStates())
	if err != nil {
		l.t.Fatalf("charges %s: %v", p, err)
	}
	if len(lines) > 0 {
		l.run(p)
	}
}

func checkConservation(t *rapid.T, k *ledger, periods []string) {
	for _, p := range periods {
		k.runIfBillable(p) // the runs not reached: a period not yet billed is billed as it happened
	}
	k.adjust()
	billed := map[[2]string]decimal.Decimal{}
	count := map[[2]string]int{}
	add := func(lines []domain.InvoiceLine) {
		for _, l := range lines {
			key := [2]string{l.ServiceID.String(), l.Period.String()}
			billed[key] = billed[key].Add(l.Net.Amount())
			count[key]++
		}
	}
	a := k.state()
	for _, inv := range a.Invoices {
		add(inv.Lines)
	}
	for _, cn := range a.CreditNotes {
		add(cn.Lines)
	}
	for _, s := range k.serviceStates() {
		for _, p := range periods {
			key := [2]string{s.ID.String(), p}
			exact := exactValue(s, period(p))
			tolerance := decimal.New(5, -3).Mul(decimal.NewFromInt(int64(count[key])))
			if diff := billed[key].Sub(exact).Abs(); diff.GreaterThan(tolerance) {
				t.Fatalf("service %s %s: billed %s over %d lines, the days are worth %s", s.ID, p, billed[key], count[key], exact)
			}
		}
	}
}

// exactValue is what the billable days of p are worth, unrounded.
func exactValue(s domain.ServiceState, p domain.Period) decimal.Decimal {
	sum := decimal.Zero
	for d := p.Start(); d.Before(p.End()); d = d.AddDays(1) {
		if s.BillableOn(d) {
			sum = sum.Add(s.PlanOn(d).MonthlyPrice.Amount())
		}
	}
	return sum.DivRound(decimal.NewFromInt(int64(p.Days())), 10)
}
