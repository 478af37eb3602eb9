package domain

import (
	"net/netip"
	"time"
)

// PlanSnapshot is the part of a plan a service is billed by, copied into the service's
// events so billing never reads the plan stream.
type PlanSnapshot struct {
	Code               PlanCode `json:"code"`
	Name               string   `json:"name"`
	MonthlyPrice       Money    `json:"monthly_price"`
	TaxRate            TaxRate  `json:"tax_rate"`
	BillWhileSuspended bool     `json:"bill_while_suspended"`
}

// ServiceProvisioned opens a service stream: a customer's subscription to a plan, starting
// on StartDate at InstallAddress. ONTSerial and StaticIP are "" when the service has none.
type ServiceProvisioned struct {
	ServiceID      ServiceID    `json:"service_id"`
	CustomerID     CustomerID   `json:"customer_id"`
	Plan           PlanSnapshot `json:"plan"`
	StartDate      Date         `json:"start_date"`
	InstallAddress string       `json:"install_address"`
	ONTSerial      string       `json:"ont_serial"`
	StaticIP       netip.Addr   `json:"static_ip"`
	ProvisionedAt  time.Time    `json:"provisioned_at"`
}

// ServiceActivated puts the service in use. Billing starts on BillingStartsOn: the later of
// the activation day and the start date.
type ServiceActivated struct {
	ServiceID       ServiceID  `json:"service_id"`
	CustomerID      CustomerID `json:"customer_id"`
	BillingStartsOn Date       `json:"billing_starts_on"`
	ActivatedAt     time.Time  `json:"activated_at"`
}

// ServiceSuspended blocks the service from SuspendedOn (inclusive). Reason is non_payment
// (dunning) or requested (the customer asked).
type ServiceSuspended struct {
	ServiceID   ServiceID        `json:"service_id"`
	CustomerID  CustomerID       `json:"customer_id"`
	Reason      SuspensionReason `json:"reason"`
	SuspendedOn Date             `json:"suspended_on"`
	SuspendedAt time.Time        `json:"suspended_at"`
}

// ServiceResumed ends a suspension; ResumedOn is the first day in use again.
type ServiceResumed struct {
	ServiceID  ServiceID  `json:"service_id"`
	CustomerID CustomerID `json:"customer_id"`
	ResumedOn  Date       `json:"resumed_on"`
	ResumedAt  time.Time  `json:"resumed_at"`
}

// ServicePlanChanged moves the service to NewPlan from EffectiveDate. The rest of that month
// is settled by two amounts: ProrationCredit = OldPlan price × DaysRemaining / DaysInPeriod
// (the old plan's unused days, credited) and ProrationCharge = NewPlan price × DaysRemaining /
// DaysInPeriod (the new plan's remaining days, charged), each rounded half-up. DaysRemaining
// counts EffectiveDate through the end of its month. The recurring invoice of that month
// carries both as lines (for fewer days if the service is terminated, or suspended unbilled,
// later in the month; see RecurringCharges).
type ServicePlanChanged struct {
	ServiceID       ServiceID    `json:"service_id"`
	CustomerID      CustomerID   `json:"customer_id"`
	OldPlan         PlanSnapshot `json:"old_plan"`
	NewPlan         PlanSnapshot `json:"new_plan"`
	EffectiveDate   Date         `json:"effective_date"`
	DaysRemaining   int          `json:"days_remaining"`
	DaysInPeriod    int          `json:"days_in_period"`
	ProrationCredit Money        `json:"proration_credit"`
	ProrationCharge Money        `json:"proration_charge"`
	ChangedAt       time.Time    `json:"changed_at"`
}

// ServiceTerminated ends the service for good; TerminatedOn is its last day (inclusive, and
// billed if the service was billable that day).
type ServiceTerminated struct {
	ServiceID    ServiceID  `json:"service_id"`
	CustomerID   CustomerID `json:"customer_id"`
	TerminatedOn Date       `json:"terminated_on"`
	Reason       string     `json:"reason"`
	TerminatedAt time.Time  `json:"terminated_at"`
}

// EventType returns "ServiceProvisioned".
func (ServiceProvisioned) EventType() string { return "ServiceProvisioned" }

// SchemaVersion returns 1.
func (ServiceProvisioned) SchemaVersion() int { return 1 }

// EventType returns "ServiceActivated".
func (ServiceActivated) EventType() string { return "ServiceActivated" }

// SchemaVersion returns 1.
func (ServiceActivated) SchemaVersion() int { return 1 }

// EventType returns "ServiceSuspended".
func (ServiceSuspended) EventType() string { return "ServiceSuspended" }

// SchemaVersion returns 1.
func (ServiceSuspended) SchemaVersion() int { return 1 }

// EventType returns "ServiceResumed".
func (ServiceResumed) EventType() string { return "ServiceResumed" }

// SchemaVersion returns 1.
func (ServiceResumed) SchemaVersion() int { return 1 }

// EventType returns "ServicePlanChanged".
func (ServicePlanChanged) EventType() string { return "ServicePlanChanged" }

// SchemaVersion returns 1.
func (ServicePlanChanged) SchemaVersion() int { return 1 }

// EventType returns "ServiceTerminated".
func (ServiceTerminated) EventType() string { return "ServiceTerminated" }

// SchemaVersion returns 1.
func (ServiceTerminated) SchemaVersion() int { return 1 }
