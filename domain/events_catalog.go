package domain

import "time"

// PlanDefined adds a plan to the tenant's catalog. TaxRate applies to every line billed for
// the plan; BillWhileSuspended says whether days a service spends suspended are still billed.
type PlanDefined struct {
	PlanCode           PlanCode  `json:"plan_code"`
	Name               string    `json:"name"`
	MonthlyPrice       Money     `json:"monthly_price"`
	TaxClass           string    `json:"tax_class"`
	TaxRate            TaxRate   `json:"tax_rate"`
	BillWhileSuspended bool      `json:"bill_while_suspended"`
	DefinedAt          time.Time `json:"defined_at"`
}

// PlanRetired withdraws a plan: no new service may be provisioned on it or changed to it.
// Services already on it keep it.
type PlanRetired struct {
	PlanCode  PlanCode  `json:"plan_code"`
	RetiredAt time.Time `json:"retired_at"`
}

// EventType returns "PlanDefined".
func (PlanDefined) EventType() string { return "PlanDefined" }

// SchemaVersion returns 1.
func (PlanDefined) SchemaVersion() int { return 1 }

// EventType returns "PlanRetired".
func (PlanRetired) EventType() string { return "PlanRetired" }

// SchemaVersion returns 1.
func (PlanRetired) SchemaVersion() int { return 1 }
