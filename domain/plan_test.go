package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

func definePlan(code, name, price, taxRate string, billWhileSuspended bool) domain.DefinePlan {
	return domain.DefinePlan{
		Code: planCode(code), Name: name, MonthlyPrice: usd(price), TaxClass: "standard",
		TaxRate: rate(taxRate), BillWhileSuspended: billWhileSuspended,
	}
}

func fiber100() domain.DefinePlan { return definePlan("fiber_100", "Fiber 100", "79.99", "0", false) }
func fiber500() domain.DefinePlan { return definePlan("fiber_500", "Fiber 500", "119.99", "0", false) }
func phone() domain.DefinePlan    { return definePlan("phone", "Phone", "29.99", "0", true) }

// plan returns the state of a plan defined (and, if retired, retired) by the commands.
func plan(cmds ...domain.PlanCommand) domain.PlanState {
	var events []domain.Event
	for _, c := range cmds {
		events = append(events, must(domain.DecidePlan(must(domain.FoldPlan(events)), c, t0))...)
	}
	return must(domain.FoldPlan(events))
}

func runPlan(t *testing.T, cases []scenario[domain.PlanCommand]) {
	t.Helper()
	runScenarios(t, domain.FoldPlan, domain.DecidePlan, cases)
}

func TestPlanRules(t *testing.T) {
	defined := domain.PlanDefined{
		PlanCode: planCode("fiber_100"), Name: "Fiber 100", MonthlyPrice: usd("79.99"), TaxClass: "standard",
		TaxRate: rate("0"), DefinedAt: t0,
	}
	noCurrency := fiber100()
	noCurrency.MonthlyPrice = domain.Money{}
	badClass := fiber100()
	badClass.TaxClass = "Standard Rate"
	runPlan(t, []scenario[domain.PlanCommand]{
		{name: "define", when: fiber100(), then: []domain.Event{defined}},
		{name: "define twice", given: []domain.Event{defined}, when: fiber100(), wantErr: &domain.AlreadyExistsError{Entity: "plan", ID: "fiber_100"}},
		{name: "a price with a currency", when: noCurrency, wantErr: &domain.InvalidValueError{Field: "monthly price", Value: "", Reason: "missing"}},
		{name: "a tax class name", when: badClass, wantErr: &domain.InvalidValueError{Field: "tax class", Value: "Standard Rate", Reason: "want 1-32 of a-z 0-9 _"}},
		{name: "a code", when: domain.DefinePlan{Name: "x", MonthlyPrice: usd("1")}, wantErr: domain.ErrInvalid},
		{name: "retire", given: []domain.Event{defined}, when: domain.RetirePlan{}, then: []domain.Event{domain.PlanRetired{PlanCode: planCode("fiber_100"), RetiredAt: t0}}},
		{
			name:    "retire twice",
			given:   []domain.Event{defined, domain.PlanRetired{PlanCode: planCode("fiber_100"), RetiredAt: t0}},
			when:    domain.RetirePlan{},
			wantErr: &domain.InvalidTransitionError{Entity: "plan", ID: "fiber_100", From: "retired", To: "retired"},
		},
		{name: "retire an undefined plan", when: domain.RetirePlan{}, wantErr: domain.ErrNotFound},
	})
	p := plan(fiber100(), domain.RetirePlan{})
	if !p.Defined() || !p.Retired || p.Snapshot().Code != planCode("fiber_100") {
		t.Errorf("got %+v", p)
	}
	_ = time.Second
}
