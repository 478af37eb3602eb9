package domain

import "net/netip"

// ServiceStatus is where a service is in its lifecycle:
//
//	provisioned → active → suspended ⇄ active → terminated
//	provisioned → terminated, suspended → terminated
//
// Nothing leaves terminated.
type ServiceStatus struct {
	s string
}

// The service statuses.
var (
	ServiceStatusProvisioned = ServiceStatus{"provisioned"}
	ServiceStatusActive      = ServiceStatus{"active"}
	ServiceStatusSuspended   = ServiceStatus{"suspended"}
	ServiceStatusTerminated  = ServiceStatus{"terminated"}
)

// String returns the status name ("" for a service not provisioned).
func (s ServiceStatus) String() string { return s.s }

// SuspensionReason says why a service is suspended. Dunning resumes only services it
// suspended itself (non_payment), never those the customer asked to suspend (requested).
type SuspensionReason struct {
	s string
}

// The suspension reasons.
var (
	SuspensionNonPayment = SuspensionReason{"non_payment"}
	SuspensionRequested  = SuspensionReason{"requested"}
)

// ParseSuspensionReason returns the reason named s (non_payment or requested), or an
// *InvalidValueError.
func ParseSuspensionReason(s string) (SuspensionReason, error) {
	switch s {
	case SuspensionNonPayment.s:
		return SuspensionNonPayment, nil
	case SuspensionRequested.s:
		return SuspensionRequested, nil
	}
	return SuspensionReason{}, invalid("suspension reason", s, "want non_payment or requested")
}

// String returns the reason name.
func (r SuspensionReason) String() string { return r.s }

// IsZero reports whether r is the zero (invalid, or "not suspended") reason.
func (r SuspensionReason) IsZero() bool { return r.s == "" }

// MarshalJSON encodes the reason name, and the zero reason as null.
func (r SuspensionReason) MarshalJSON() ([]byte, error) { return marshalNullable(r.s, r.IsZero()) }

// UnmarshalJSON decodes what MarshalJSON writes; null gives the zero reason.
func (r *SuspensionReason) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, r, ParseSuspensionReason)
}

// ServiceState is one service (a customer's subscription). Build it only with
// FoldService/ApplyService.
type ServiceState struct {
	ID               ServiceID
	Customer         CustomerID
	Status           ServiceStatus
	SuspensionReason SuspensionReason // zero unless suspended
	// Plan is the plan in force now; PlanChanges holds every change, oldest first.
	Plan        PlanSnapshot
	PlanChanges []ServicePlanChanged
	StartDate   Date
	// BillingStartsOn is set on activation; TerminatedOn (the last day) on termination.
	BillingStartsOn Date
	TerminatedOn    Date
	// Suspensions are the suspended day ranges, oldest first; the last has a zero To while
	// the service is suspended.
	Suspensions    []DateRange
	InstallAddress string
	ONTSerial      string
	StaticIP       netip.Addr
}

// Provisioned reports whether the service exists.
func (s ServiceState) Provisioned() bool { return !s.ID.IsZero() }

// ServiceCommand is ProvisionService, ActivateService, SuspendService, ResumeService,
// ChangePlan or TerminateService.
type ServiceCommand interface{ serviceCommand() }

// ProvisionService creates a service for Customer on Plan. Customer and Plan are the current
// states of those aggregates, loaded by the command side: the customer must be active and the
// plan defined, not retired, and priced in the customer's billing currency. ONTSerial and
// StaticIP are optional.
//
// Errors: *AlreadyExistsError; *NotFoundError for an unregistered customer or undefined
// plan; *CustomerInactiveError; *PlanRetiredError; *CurrencyMismatchError;
// *InvalidValueError.
type ProvisionService struct {
	ServiceID      ServiceID
	Customer       CustomerState
	Plan           PlanState
	StartDate      Date
	InstallAddress string
	ONTSerial      string
	StaticIP       netip.Addr
}

// Every lifecycle command takes effect on a business date: On (EffectiveDate for a plan
// change, LastDay for a termination), today when zero. It may be in the past (a change the
// field team reports late, a history moved over from another system) or in the future (a
// downgrade scheduled for the end of the month): billing goes by these dates, whatever the
// order the commands arrive in (see reconcile.go). Status is where the service stands after
// its latest command; the dates say from when each took effect.

// ActivateService puts a provisioned service in use: billing starts On (zero: the later of
// today and the start date), which must not be before the start date.
//
// Errors: *NotFoundError; *InvalidTransitionError unless provisioned; *DateNotAllowedError.
type ActivateService struct {
	On Date
}

// SuspendService blocks an active service from On (zero: today), which must not be before
// billing started or the end of its previous suspension.
//
// Errors: *NotFoundError; *InvalidTransitionError unless active; *DateNotAllowedError;
// *InvalidValueError for a missing reason.
type SuspendService struct {
	Reason SuspensionReason
	On     Date
}

// ResumeService ends a suspension from On (zero: today; not before the suspension began),
// whatever its reason.
//
// Errors: *NotFoundError; *InvalidTransitionError unless suspended; *DateNotAllowedError.
type ResumeService struct {
	On Date
}

// ChangePlan moves a service in use (active or suspended) to NewPlan (the plan's current
// state) from EffectiveDate (zero: today), which must not be before billing started or the
// previous change, nor after the last day of a terminated service. The plan in force that day
// must not already be NewPlan. The event carries, for information, the proration credit (old
// plan, days from EffectiveDate to the end of its month) and charge (new plan, same days);
// billing works the money out from the dates (see reconcile.go).
//
// Errors: *NotFoundError; *InvalidTransitionError unless active or suspended;
// *PlanRetiredError; *CurrencyMismatchError; *DateNotAllowedError; *InvalidValueError (same
// plan).
type ChangePlan struct {
	NewPlan       PlanState
	EffectiveDate Date
}

// TerminateService ends the service for good. LastDay is the last day of service
// (inclusive; zero: today); it must not be before the start date or the last plan change.
//
// Errors: *NotFoundError; *InvalidTransitionError if already terminated;
// *DateNotAllowedError; *InvalidValueError.
type TerminateService struct {
	LastDay Date
	Reason  string
}

func (ProvisionService) serviceCommand() {}
func (ActivateService) serviceCommand()  {}
func (SuspendService) serviceCommand()   {}
func (ResumeService) serviceCommand()    {}
func (ChangePlan) serviceCommand()       {}
func (TerminateService) serviceCommand() {}
