package domain_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

var homeAddress = "1 Main St, Springfield"

// aliceState is Alice's customer profile as the command side would load it.
func aliceState() domain.CustomerState {
	return must(domain.FoldAccount(history(registered()...))).Customer
}

func provision(n int, p domain.PlanState, start string) domain.ProvisionService {
	return domain.ProvisionService{
		ServiceID: serviceID(n), Customer: aliceState(), Plan: p, StartDate: date(start),
		InstallAddress: homeAddress, ONTSerial: "HWTC1234ABCD", StaticIP: netip.MustParseAddr("203.0.113.7"),
	}
}

// serviceStep is a service command decided at an instant.
type serviceStep struct {
	now time.Time
	cmd domain.ServiceCommand
}

func svc(day string, cmd domain.ServiceCommand) serviceStep {
	return serviceStep{now: at(day), cmd: cmd}
}

// serviceHistory decides each step on the service folded so far; a failing step panics.
func serviceHistory(steps ...serviceStep) []domain.Event {
	var events []domain.Event
	for _, s := range steps {
		events = append(events, must(domain.DecideService(must(domain.FoldService(events)), s.cmd, s.now))...)
	}
	return events
}

// fiberFrom is service 1 on fiber_100, provisioned and activated on day.
func fiberFrom(day string) []serviceStep {
	return []serviceStep{svc(day, provision(1, plan(fiber100()), day)), svc(day, domain.ActivateService{})}
}

func runService(t *testing.T, cases []scenario[domain.ServiceCommand]) {
	t.Helper()
	runScenarios(t, domain.FoldService, domain.DecideService, cases)
}

func snapshot(d domain.DefinePlan) domain.PlanSnapshot { return plan(d).Snapshot() }

func provisioned(ip string) domain.ServiceProvisioned {
	return domain.ServiceProvisioned{
		ServiceID: serviceID(1), CustomerID: alice, Plan: snapshot(fiber100()), StartDate: date("2026-01-10"),
		InstallAddress: homeAddress, ONTSerial: "HWTC1234ABCD", StaticIP: netip.MustParseAddr(ip), ProvisionedAt: t0,
	}
}

func TestProvisionService(t *testing.T) {
	deactivated := aliceState()
	deactivated.Status = domain.CustomerStatusDeactivated
	base := func(change func(*domain.ProvisionService)) domain.ProvisionService {
		p := provision(1, plan(fiber100()), "2026-01-10")
		change(&p)
		return p
	}
	eurPlan := fiber100()
	eurPlan.MonthlyPrice = money("79.99", "EUR")
	runService(t, []scenario[domain.ServiceCommand]{
		{name: "provision snapshots the plan and the network attributes", when: base(func(*domain.ProvisionService) {}), then: []domain.Event{provisioned("203.0.113.7")}},
		{
			name: "IPv6 static addresses are fine",
			when: base(func(p *domain.ProvisionService) { p.StaticIP = netip.MustParseAddr("2001:db8::7") }),
			then: []domain.Event{provisioned("2001:db8::7")},
		},
		{
			name:    "not for a deactivated customer",
			when:    base(func(p *domain.ProvisionService) { p.Customer = deactivated }),
			wantErr: &domain.CustomerInactiveError{Customer: alice},
		},
		{name: "not for an unknown customer", when: base(func(p *domain.ProvisionService) { p.Customer = domain.CustomerState{} }), wantErr: domain.ErrNotFound},
		{name: "not on a retired plan", when: provision(1, plan(fiber100(), domain.RetirePlan{}), "2026-01-10"), wantErr: &domain.PlanRetiredError{Plan: planCode("fiber_100")}},
		{name: "not on an undefined plan", when: provision(1, domain.PlanState{}, "2026-01-10"), wantErr: domain.ErrNotFound},
		{name: "not on a plan in another currency", when: provision(1, plan(eurPlan), "2026-01-10"), wantErr: &domain.CurrencyMismatchError{Want: usdCurrency, Got: currency("EUR")}},
		{
			name:    "a static IP must be unicast",
			when:    base(func(p *domain.ProvisionService) { p.StaticIP = netip.MustParseAddr("224.0.0.1") }),
			wantErr: &domain.InvalidValueError{Field: "static IP", Value: "224.0.0.1", Reason: "want a unicast address without a zone"},
		},
		{
			name:    "an ONT serial must look like one",
			when:    base(func(p *domain.ProvisionService) { p.ONTSerial = "HW TC" }),
			wantErr: &domain.InvalidValueError{Field: "ONT serial", Value: "HW TC", Reason: "want 4-32 of A-Z a-z 0-9 -"},
		},
		{name: "a start date is required", when: base(func(p *domain.ProvisionService) { p.StartDate = domain.Date{} }), wantErr: domain.ErrInvalid},
		{name: "an install address is required", when: base(func(p *domain.ProvisionService) { p.InstallAddress = "" }), wantErr: domain.ErrInvalid},
		{
			name: "provision twice", given: serviceHistory(fiberFrom("2026-01-10")...), when: provision(1, plan(fiber100()), "2026-01-10"),
			wantErr: &domain.AlreadyExistsError{Entity: "service", ID: serviceID(1).String()},
		},
		{name: "other commands need a provisioned service", when: domain.ActivateService{}, wantErr: domain.ErrNotFound},
	})
}

// provisioned → active → suspended ⇄ active → terminated; provisioned → terminated.
func TestServiceLifecycle(t *testing.T) {
	id := serviceID(1).String()
	transition := func(from, to string) error {
		return &domain.InvalidTransitionError{Entity: "service", ID: id, From: from, To: to}
	}
	justProvisioned := serviceHistory(svc("2026-01-10", provision(1, plan(fiber100()), "2026-01-10")))
	early := serviceHistory(svc("2026-01-05", provision(1, plan(fiber100()), "2026-01-10")))
	active := serviceHistory(fiberFrom("2026-01-10")...)
	suspended := serviceHistory(append(fiberFrom("2026-01-01"), svc("2026-01-05", domain.SuspendService{Reason: domain.SuspensionRequested}))...)
	runService(t, []scenario[domain.ServiceCommand]{
		{
			name: "activate: billing starts today", given: justProvisioned, when: domain.ActivateService{},
			then: []domain.Event{domain.ServiceActivated{ServiceID: serviceID(1), CustomerID: alice, BillingStartsOn: date("2026-01-10"), ActivatedAt: t0}},
		},
		{
			name: "activate before the start date: billing starts on the start date", given: early, when: domain.ActivateService{}, now: at("2026-01-06"),
			then: []domain.Event{domain.ServiceActivated{ServiceID: serviceID(1), CustomerID: alice, BillingStartsOn: date("2026-01-10"), ActivatedAt: at("2026-01-06")}},
		},
		{name: "activate twice", given: active, when: domain.ActivateService{}, wantErr: transition("active", "active")},
		{
			name: "suspend for non-payment", given: active, when: domain.SuspendService{Reason: domain.SuspensionNonPayment},
			then: []domain.Event{domain.ServiceSuspended{ServiceID: serviceID(1), CustomerID: alice, Reason: domain.SuspensionNonPayment, SuspendedOn: date("2026-01-10"), SuspendedAt: t0}},
		},
		{name: "suspend needs a reason", given: active, when: domain.SuspendService{}, wantErr: &domain.InvalidValueError{Field: "suspension reason", Value: "", Reason: "missing"}},
		{name: "only an active service is suspended", given: justProvisioned, when: domain.SuspendService{Reason: domain.SuspensionRequested}, wantErr: transition("provisioned", "suspended")},
		{
			name: "resume", given: suspended, when: domain.ResumeService{},
			then: []domain.Event{domain.ServiceResumed{ServiceID: serviceID(1), CustomerID: alice, ResumedOn: date("2026-01-10"), ResumedAt: t0}},
		},
		{name: "only a suspended service resumes", given: active, when: domain.ResumeService{}, wantErr: transition("active", "active")},
		{
			name: "terminate an active service", given: active, when: domain.TerminateService{LastDay: date("2026-03-15"), Reason: "moving"},
			then: []domain.Event{domain.ServiceTerminated{ServiceID: serviceID(1), CustomerID: alice, TerminatedOn: date("2026-03-15"), Reason: "moving", TerminatedAt: t0}},
		},
		{
			name: "terminate a provisioned service", given: justProvisioned, when: domain.TerminateService{LastDay: date("2026-01-10")},
			then: []domain.Event{domain.ServiceTerminated{ServiceID: serviceID(1), CustomerID: alice, TerminatedOn: date("2026-01-10"), TerminatedAt: t0}},
		},
		{
			name: "terminate a suspended service", given: suspended, when: domain.TerminateService{LastDay: date("2026-01-31")},
			then: []domain.Event{domain.ServiceTerminated{ServiceID: serviceID(1), CustomerID: alice, TerminatedOn: date("2026-01-31"), TerminatedAt: t0}},
		},
		{
			name: "the last day is not before the start date", given: active, when: domain.TerminateService{LastDay: date("2026-01-09")},
			wantErr: &domain.DateNotAllowedError{Entity: "service", ID: id, Field: "last day", Date: date("2026-01-09"), Reason: "is before the start date 2026-01-10"},
		},
		{
			name: "no last day: today", given: active, when: domain.TerminateService{}, now: at("2026-01-20"),
			then: []domain.Event{domain.ServiceTerminated{ServiceID: serviceID(1), CustomerID: alice, TerminatedOn: date("2026-01-20"), TerminatedAt: at("2026-01-20")}},
		},
	})
}

func TestNothingLeavesTerminated(t *testing.T) {
	terminated := serviceHistory(append(fiberFrom("2026-01-01"), svc("2026-01-05", domain.TerminateService{LastDay: date("2026-01-05")}))...)
	id := serviceID(1).String()
	transition := func(to string) error {
		return &domain.InvalidTransitionError{Entity: "service", ID: id, From: "terminated", To: to}
	}
	runService(t, []scenario[domain.ServiceCommand]{
		{name: "activate", given: terminated, when: domain.ActivateService{}, wantErr: transition("active")},
		{name: "suspend", given: terminated, when: domain.SuspendService{Reason: domain.SuspensionNonPayment}, wantErr: transition("suspended")},
		{name: "resume", given: terminated, when: domain.ResumeService{}, wantErr: transition("active")},
		{name: "change plan", given: terminated, when: domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-10")}, wantErr: transition("plan change")},
		{name: "terminate", given: terminated, when: domain.TerminateService{LastDay: date("2026-01-10")}, wantErr: transition("terminated")},
	})
}

// Worked example: fiber_100 (79.99) → fiber_500 (119.99) effective 2026-01-16 leaves 16 of
// January's 31 days: credit 79.99 × 16/31 = 41.29, charge 119.99 × 16/31 = 61.93.
func TestChangePlanProratesByDay(t *testing.T) {
	active := serviceHistory(fiberFrom("2026-01-01")...)
	id := serviceID(1).String()
	change := func(p domain.PlanState, effective string) domain.ChangePlan {
		return domain.ChangePlan{NewPlan: p, EffectiveDate: date(effective)}
	}
	dateErr := func(d, reason string) error {
		return &domain.DateNotAllowedError{Entity: "service", ID: id, Field: "effective date", Date: date(d), Reason: reason}
	}
	runService(t, []scenario[domain.ServiceCommand]{
		{
			name: "upgrade mid-month", given: active, when: change(plan(fiber500()), "2026-01-16"), now: at("2026-01-16"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-01-16"), DaysRemaining: 16, DaysInPeriod: 31,
				ProrationCredit: usd("41.29"), ProrationCharge: usd("61.93"), ChangedAt: at("2026-01-16"),
			}},
		},
		{
			name: "effective on the first: the whole month", given: serviceHistory(fiberFrom("2025-12-01")...), when: change(plan(fiber500()), "2026-01-01"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-01-01"), DaysRemaining: 31, DaysInPeriod: 31,
				ProrationCredit: usd("79.99"), ProrationCharge: usd("119.99"), ChangedAt: t0,
			}},
		},
		{
			name: "back-dated into an earlier month", given: active, when: change(plan(fiber500()), "2026-01-20"), now: at("2026-03-02"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-01-20"), DaysRemaining: 12, DaysInPeriod: 31,
				ProrationCredit: usd("30.96"), ProrationCharge: usd("46.45"), ChangedAt: at("2026-03-02"),
			}},
		},
		{
			name: "scheduled for a later month", given: active, when: change(plan(fiber500()), "2026-02-01"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-02-01"), DaysRemaining: 28, DaysInPeriod: 28,
				ProrationCredit: usd("79.99"), ProrationCharge: usd("119.99"), ChangedAt: t0,
			}},
		},
		{
			name: "not before billing started", given: serviceHistory(fiberFrom("2026-01-05")...), when: change(plan(fiber500()), "2026-01-04"),
			wantErr: dateErr("2026-01-04", "is before billing started on 2026-01-05"),
		},
		{
			name: "not before the previous change", given: serviceHistory(append(fiberFrom("2026-01-01"), svc("2026-01-08", change(plan(fiber500()), "2026-01-08")))...),
			when: change(plan(fiber100()), "2026-01-07"), wantErr: dateErr("2026-01-07", "is before the previous plan change on 2026-01-08"),
		},
		{name: "not to a retired plan", given: active, when: change(plan(fiber500(), domain.RetirePlan{}), "2026-01-16"), wantErr: &domain.PlanRetiredError{Plan: planCode("fiber_500")}},
		{name: "not to the same plan", given: active, when: change(plan(fiber100()), "2026-01-16"), wantErr: &domain.InvalidValueError{Field: "new plan", Value: "fiber_100", Reason: "is already the plan on 2026-01-16"}},
		{
			name: "no date: today", given: active, when: domain.ChangePlan{NewPlan: plan(fiber500())}, now: at("2026-01-20"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-01-20"), DaysRemaining: 12, DaysInPeriod: 31,
				ProrationCredit: usd("30.96"), ProrationCharge: usd("46.45"), ChangedAt: at("2026-01-20"),
			}},
		},
		{
			name: "a suspended service too", given: serviceHistory(append(fiberFrom("2026-01-01"), svc("2026-01-05", domain.SuspendService{Reason: domain.SuspensionRequested}))...),
			when: change(plan(fiber500()), "2026-01-16"), now: at("2026-01-16"),
			then: []domain.Event{domain.ServicePlanChanged{
				ServiceID: serviceID(1), CustomerID: alice, OldPlan: snapshot(fiber100()), NewPlan: snapshot(fiber500()),
				EffectiveDate: date("2026-01-16"), DaysRemaining: 16, DaysInPeriod: 31,
				ProrationCredit: usd("41.29"), ProrationCharge: usd("61.93"), ChangedAt: at("2026-01-16"),
			}},
		},
		{
			name: "not a service that was never activated", given: serviceHistory(svc("2026-01-01", provision(1, plan(fiber100()), "2026-01-01"))),
			when: change(plan(fiber500()), "2026-01-16"), wantErr: &domain.InvalidTransitionError{Entity: "service", ID: id, From: "provisioned", To: "plan change"},
		},
	})
}

func TestFoldService(t *testing.T) {
	events := serviceHistory(append(fiberFrom("2026-01-01"),
		svc("2026-01-05", domain.SuspendService{Reason: domain.SuspensionNonPayment}),
		svc("2026-01-08", domain.ResumeService{}),
		svc("2026-01-16", domain.ChangePlan{NewPlan: plan(fiber500()), EffectiveDate: date("2026-01-16")}),
		svc("2026-01-20", domain.SuspendService{Reason: domain.SuspensionRequested}))...)
	s := must(domain.FoldService(events))
	if s.Status != domain.ServiceStatusSuspended || s.SuspensionReason != domain.SuspensionRequested || s.Plan.Code != planCode("fiber_500") {
		t.Fatalf("got %+v", s)
	}
	want := []domain.DateRange{{From: date("2026-01-05"), To: date("2026-01-08")}, {From: date("2026-01-20")}}
	if !equal(s.Suspensions, want) {
		t.Errorf("suspensions %+v", s.Suspensions)
	}
	if s.PlanOn(date("2026-01-15")).Code != planCode("fiber_100") || s.PlanOn(date("2026-01-16")).Code != planCode("fiber_500") {
		t.Error("PlanOn")
	}
	if !s.SuspendedOn(date("2026-01-07")) || s.SuspendedOn(date("2026-01-08")) || !s.SuspendedOn(date("2026-02-01")) {
		t.Error("SuspendedOn")
	}
	if s.Status.String() != "suspended" || s.DunningService().SuspensionReason != domain.SuspensionRequested {
		t.Error("status")
	}
}

func TestParseSuspensionReason(t *testing.T) {
	for _, r := range []string{"non_payment", "requested"} {
		if got, err := domain.ParseSuspensionReason(r); err != nil || got.String() != r {
			t.Errorf("%s: %v", r, err)
		}
	}
	if _, err := domain.ParseSuspensionReason("fraud"); err == nil {
		t.Error("fraud accepted")
	}
}
