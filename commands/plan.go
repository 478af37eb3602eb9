package commands

import (
	"context"
	"time"

	"github.com/dotmac/ledger/domain"
)

// DefinePlan adds a plan to the tenant's catalog; the plan code is the plan's id.
type DefinePlan = domain.DefinePlan

// RetirePlan withdraws a plan from sale.
type RetirePlan struct {
	Code domain.PlanCode
}

// DefinePlan defines a plan; Result.ID is its code.
//
// Errors: *domain.AlreadyExistsError; *domain.InvalidValueError.
func (h *Handlers) DefinePlan(ctx context.Context, m Meta, c DefinePlan) (Result, error) {
	return h.onPlan(ctx, "DefinePlan", m, c.Code, false, c)
}

// RetirePlan retires a plan.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError if already retired.
func (h *Handlers) RetirePlan(ctx context.Context, m Meta, c RetirePlan) (Result, error) {
	return h.onPlan(ctx, "RetirePlan", m, c.Code, true, domain.RetirePlan{})
}

func (h *Handlers) onPlan(ctx context.Context, name string, m Meta, code domain.PlanCode, mustExist bool, cmd domain.PlanCommand) (Result, error) {
	return h.run(name, func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		if code.IsZero() {
			return Result{}, &domain.InvalidValueError{Field: "plan code", Reason: "missing"}
		}
		t := target[domain.PlanState]{agg: planAggregate, stream: domain.PlanStream(m.Tenant, code)}
		if mustExist {
			t.require = planExists(code)
		}
		res, err := execute(ctx, h, m, t, func(p domain.PlanState, now time.Time) ([]domain.Event, error) {
			return domain.DecidePlan(p, cmd, now)
		})
		res.ID = code.String()
		return res, err
	})
}

func planExists(code domain.PlanCode) func(domain.PlanState) error {
	return func(p domain.PlanState) error {
		if !p.Defined() {
			return &domain.NotFoundError{Entity: "plan", ID: code.String()}
		}
		return nil
	}
}

// Plan returns a plan's current state.
//
// Errors: *domain.NotFoundError if the plan is not defined.
func (h *Handlers) Plan(ctx context.Context, tenant domain.TenantID, code domain.PlanCode) (domain.PlanState, error) {
	p, _, err := load(ctx, h, planAggregate, domain.PlanStream(tenant, code))
	if err == nil {
		err = planExists(code)(p)
	}
	return p, err
}
