package domainsim

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dotmac/ledger/domain"
)

// planSpec is a plan of the catalog every simulated tenant sells.
type planSpec struct {
	code, name string
	cents      int64 // monthly price in hundredths of the currency's major unit (see money)
	taxRate    string
	billWhileSuspended,
	internet bool
	// launch is the month the plan is defined (0: the day before the first month); retire the
	// month it is retired (0: never). Both are clamped to the simulated months.
	launch, retire int
}

// catalog is what every tenant sells: fiber plans, a legacy DSL plan retired at the start of
// the second month, a phone line, and a faster fiber plan launched in the third month.
var catalog = []planSpec{
	{"fiber_100", "Fiber 100", 7999, "0", false, true, 0, 0},
	{"fiber_500", "Fiber 500", 12999, "0", false, true, 0, 0},
	{"dsl_20", "DSL 20", 2999, "0", true, true, 0, 1},
	{"voip", "Home phone", 2999, "0.075", true, false, 0, 0},
	{"fiber_1000", "Fiber 1000", 14999, "0.2", false, true, 2, 0},
}

// tenant is one simulated ISP: its catalog, its current billing run and its customers.
// Lanes read the catalog during their phases; only tenant-level steps change it.
type tenant struct {
	index    int
	id       domain.TenantID
	currency domain.Currency
	r        *rand.Rand
	rec      recorder
	plans    []*stream[domain.PlanState] // by catalog index
	run      *runStream
	lanes    []*lane
}

func newTenant(s settings, index int) *tenant {
	spec := s.tenants[index]
	t := &tenant{index: index, id: spec.id, currency: spec.currency,
		r: rand.New(rand.NewPCG(s.seed, uint64(index)<<32|laneKeyTenant))} // #nosec G404 -- reproducible simulation, not secrets
	for _, p := range catalog {
		code, err := domain.ParsePlanCode(p.code)
		if err != nil {
			panic("invariant: catalog code " + p.code + ": " + err.Error())
		}
		t.plans = append(t.plans, &stream[domain.PlanState]{id: domain.PlanStream(spec.id, code)})
	}
	return t
}

// laneKeyTenant is the low half of a tenant's generator stream; customers use 0 to
// MaxCustomers-1.
const laneKeyTenant = 1<<32 - 1

// catalogStep defines the plans launched in month m and retires those retired then, at at
// (plus a minute per plan, in catalog order). A plan the sink returned as retired already (a
// tenant seeded before) is not retired again.
func (t *tenant) catalogStep(m, months int, at time.Time) error {
	for i, p := range catalog {
		at := at.Add(time.Duration(i) * time.Minute)
		if min(p.launch, months) == m {
			if err := t.define(i, at); err != nil {
				return err
			}
		}
		if p.retire > 0 && min(p.retire, months) == m && !t.plans[i].state.Retired {
			if err := t.plan(i, domain.RetirePlan{}, at); err != nil {
				return err
			}
			t.rec.stats.did(ActRetiredPlans)
		}
	}
	return nil
}

func (t *tenant) define(i int, at time.Time) error {
	p := catalog[i]
	rate, err := domain.ParseTaxRate(p.taxRate)
	if err != nil {
		return fmt.Errorf("invariant: catalog tax rate %s: %w", p.taxRate, err)
	}
	class := "telecom"
	if rate.Decimal().IsZero() {
		class = "exempt"
	}
	code, _ := domain.ParsePlanCode(p.code) // checked by newTenant
	cmd := domain.DefinePlan{Code: code, Name: p.name, MonthlyPrice: money(p.cents, t.currency), TaxClass: class,
		TaxRate: rate, BillWhileSuspended: p.billWhileSuspended}
	if err := t.plan(i, cmd, at); err != nil {
		return err
	}
	t.rec.stats.did(ActPlans)
	return nil
}

// plan sends a plan command to the i-th plan of the catalog.
func (t *tenant) plan(i int, cmd domain.PlanCommand, at time.Time) error {
	st := t.plans[i]
	code, _ := domain.ParsePlanCode(catalog[i].code)
	c := Command{Tenant: t.id, At: at, Actor: ActorCatalog, Plan: code, Cmd: cmd}
	_, err := send(&t.rec, st, c, func(s domain.PlanState, now time.Time) ([]domain.Event, error) {
		return domain.DecidePlan(s, cmd, now)
	}, domain.ApplyPlan)
	return err
}

// onSale returns the plans a customer may buy now: the internet plans, or the others.
func (t *tenant) onSale(internet bool) []domain.PlanState {
	var out []domain.PlanState
	for i, st := range t.plans {
		if st.state.Defined() && !st.state.Retired && catalog[i].internet == internet {
			out = append(out, st.state)
		}
	}
	return out
}
