package domain

import "time"

// PlanState is a plan of a tenant's catalog. Build it only with FoldPlan/ApplyPlan.
type PlanState struct {
	Code               PlanCode
	Name               string
	MonthlyPrice       Money
	TaxClass           string
	TaxRate            TaxRate
	BillWhileSuspended bool
	Retired            bool
}

// Defined reports whether the plan exists.
func (p PlanState) Defined() bool { return !p.Code.IsZero() }

// Snapshot returns what a service is billed by.
func (p PlanState) Snapshot() PlanSnapshot {
	return PlanSnapshot{Code: p.Code, Name: p.Name, MonthlyPrice: p.MonthlyPrice, TaxRate: p.TaxRate, BillWhileSuspended: p.BillWhileSuspended}
}

// PlanCommand is DefinePlan or RetirePlan.
type PlanCommand interface{ planCommand() }

// DefinePlan adds a plan to the catalog. TaxClass names the tax treatment ("standard");
// TaxRate is its rate as a fraction ("0.20"). The monthly price may be zero.
//
// Errors: *AlreadyExistsError; *InvalidValueError for a malformed field.
type DefinePlan struct {
	Code               PlanCode
	Name               string
	MonthlyPrice       Money
	TaxClass           string
	TaxRate            TaxRate
	BillWhileSuspended bool
}

// RetirePlan withdraws the plan from sale.
//
// Errors: *NotFoundError; *InvalidTransitionError if already retired.
type RetirePlan struct{}

func (DefinePlan) planCommand() {}
func (RetirePlan) planCommand() {}

// DecidePlan decides cmd against plan p at instant now.
func DecidePlan(p PlanState, cmd PlanCommand, now time.Time) ([]Event, error) {
	switch c := cmd.(type) {
	case DefinePlan:
		return decideDefinePlan(p, c, now)
	case RetirePlan:
		switch {
		case !p.Defined():
			return nil, &NotFoundError{Entity: "plan", ID: "(stream has no plan)"}
		case p.Retired:
			return nil, &InvalidTransitionError{Entity: "plan", ID: p.Code.String(), From: "retired", To: "retired"}
		}
		return []Event{PlanRetired{PlanCode: p.Code, RetiredAt: now.UTC()}}, nil
	}
	return nil, invalid("plan command", typeName(cmd), "unknown")
}

func decideDefinePlan(p PlanState, c DefinePlan, now time.Time) ([]Event, error) {
	if p.Defined() {
		return nil, &AlreadyExistsError{Entity: "plan", ID: p.Code.String()}
	}
	if c.Code.IsZero() {
		return nil, invalid("plan code", "", "missing")
	}
	if c.MonthlyPrice.Currency().IsZero() {
		return nil, invalid("monthly price", "", "missing")
	}
	if err := firstError(
		checkText("plan name", c.Name, MaxNameRunes, true),
		checkAmount("monthly price", c.MonthlyPrice, c.MonthlyPrice.Currency(), true),
		checkPattern("tax class", c.TaxClass, taxClassPattern, false, "want 1-32 of a-z 0-9 _"),
	); err != nil {
		return nil, err
	}
	return []Event{PlanDefined{
		PlanCode: c.Code, Name: c.Name, MonthlyPrice: c.MonthlyPrice, TaxClass: c.TaxClass,
		TaxRate: c.TaxRate, BillWhileSuspended: c.BillWhileSuspended, DefinedAt: now.UTC(),
	}}, nil
}

// ApplyPlan folds one plan event onto p; p is not modified. An event that cannot apply
// returns p and an error wrapping ErrInvariant.
func ApplyPlan(p PlanState, e Event) (PlanState, error) {
	switch e := e.(type) {
	case PlanDefined:
		if p.Defined() {
			return p, invariantf("plan %s defined twice", p.Code)
		}
		return PlanState{
			Code: e.PlanCode, Name: e.Name, MonthlyPrice: e.MonthlyPrice, TaxClass: e.TaxClass,
			TaxRate: e.TaxRate, BillWhileSuspended: e.BillWhileSuspended,
		}, nil
	case PlanRetired:
		if !p.Defined() || p.Retired || e.PlanCode != p.Code {
			return p, invariantf("plan %s retired while undefined or retired", e.PlanCode)
		}
		p.Retired = true
		return p, nil
	}
	return p, invariantf("%s is not a plan event", e.EventType())
}

// FoldPlan rebuilds a plan from its stream.
func FoldPlan(events []Event) (PlanState, error) { return fold(PlanState{}, events, ApplyPlan) }
