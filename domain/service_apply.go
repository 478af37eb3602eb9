package domain

import "slices"

// FoldService rebuilds a service from its stream.
func FoldService(events []Event) (ServiceState, error) {
	return fold(ServiceState{}, events, ApplyService)
}

// ApplyService folds one service event onto s; s is not modified. An event that cannot apply
// (wrong service, a transition the lifecycle forbids) returns s and an ErrInvariant error.
func ApplyService(s ServiceState, e Event) (ServiceState, error) {
	next, err := applyService(s, e)
	if err != nil {
		return s, asInvariant(e, err)
	}
	return next, nil
}

func applyService(s ServiceState, e Event) (ServiceState, error) {
	if p, ok := e.(ServiceProvisioned); ok {
		if s.Provisioned() {
			return s, invariantf("service %s provisioned twice", s.ID)
		}
		return ServiceState{
			ID: p.ServiceID, Customer: p.CustomerID, Status: ServiceStatusProvisioned, Plan: p.Plan,
			StartDate: p.StartDate, InstallAddress: p.InstallAddress, ONTSerial: p.ONTSerial, StaticIP: p.StaticIP,
		}, nil
	}
	se, ok := e.(serviceEvent)
	if !ok || se.service() != s.ID || !s.Provisioned() {
		return s, invariantf("%s does not apply to service %s", e.EventType(), s.ID)
	}
	switch e := e.(type) {
	case ServiceActivated:
		return s.moveTo(ServiceStatusActive, ServiceStatusProvisioned, func(s ServiceState) ServiceState {
			s.BillingStartsOn = e.BillingStartsOn
			return s
		})
	case ServiceSuspended:
		return s.moveTo(ServiceStatusSuspended, ServiceStatusActive, func(s ServiceState) ServiceState {
			s.SuspensionReason = e.Reason
			s.Suspensions = append(slices.Clip(s.Suspensions), DateRange{From: e.SuspendedOn})
			return s
		})
	case ServiceResumed:
		return s.moveTo(ServiceStatusActive, ServiceStatusSuspended, func(s ServiceState) ServiceState {
			s.SuspensionReason = SuspensionReason{}
			s.Suspensions = slices.Clone(s.Suspensions)
			s.Suspensions[len(s.Suspensions)-1].To = e.ResumedOn
			return s
		})
	case ServicePlanChanged:
		return s.applyPlanChanged(e)
	case ServiceTerminated:
		return s.moveTo(ServiceStatusTerminated, s.Status, func(s ServiceState) ServiceState {
			s.TerminatedOn = e.TerminatedOn
			return s
		})
	}
	return s, invariantf("%s is not a service event", e.EventType())
}

// moveTo changes the status from `from` to `to` and applies change, or fails if the service
// is not in `from` or is terminated.
func (s ServiceState) moveTo(to, from ServiceStatus, change func(ServiceState) ServiceState) (ServiceState, error) {
	if s.Status != from || s.Status == ServiceStatusTerminated {
		return s, invariantf("service %s cannot go from %s to %s", s.ID, s.Status, to)
	}
	s = change(s)
	s.Status = to
	return s, nil
}

func (s ServiceState) applyPlanChanged(e ServicePlanChanged) (ServiceState, error) {
	if (s.Status != ServiceStatusActive && s.Status != ServiceStatusSuspended) || e.OldPlan.Code != s.Plan.Code {
		return s, invariantf("service %s (%s on %s) changed from plan %s", s.ID, s.Status, s.Plan.Code, e.OldPlan.Code)
	}
	s.Plan = e.NewPlan
	s.PlanChanges = append(slices.Clip(s.PlanChanges), e)
	return s, nil
}

// serviceEvent is an event of a service stream; each names its service.
type serviceEvent interface {
	Event
	service() ServiceID
}

func (e ServiceProvisioned) service() ServiceID { return e.ServiceID }
func (e ServiceActivated) service() ServiceID   { return e.ServiceID }
func (e ServiceSuspended) service() ServiceID   { return e.ServiceID }
func (e ServiceResumed) service() ServiceID     { return e.ServiceID }
func (e ServicePlanChanged) service() ServiceID { return e.ServiceID }
func (e ServiceTerminated) service() ServiceID  { return e.ServiceID }
