package domain

import (
	"net/netip"
	"time"
)

// DecideService decides cmd against service s at instant now. Every command except
// ProvisionService needs a provisioned service (*NotFoundError otherwise).
func DecideService(s ServiceState, cmd ServiceCommand, now time.Time) ([]Event, error) {
	if p, ok := cmd.(ProvisionService); ok {
		return decideProvisionService(s, p, now)
	}
	if !s.Provisioned() {
		return nil, &NotFoundError{Entity: "service", ID: "(stream has no service)"}
	}
	switch c := cmd.(type) {
	case ActivateService:
		return s.decideActivate(c, now)
	case SuspendService:
		return s.decideSuspend(c, now)
	case ResumeService:
		return s.decideResume(c, now)
	case ChangePlan:
		return decideChangePlan(s, c, now)
	case TerminateService:
		return decideTerminateService(s, c, now)
	}
	return nil, invalid("service command", typeName(cmd), "unknown")
}

func (s ServiceState) decideActivate(c ActivateService, now time.Time) ([]Event, error) {
	if s.Status != ServiceStatusProvisioned {
		return nil, s.transitionError(ServiceStatusActive)
	}
	on := c.On
	if on.IsZero() {
		on = laterDate(DateOf(now), s.StartDate)
	}
	if on.Before(s.StartDate) {
		return nil, s.dateError("activation date", on, "is before the start date "+s.StartDate.String())
	}
	return []Event{ServiceActivated{ServiceID: s.ID, CustomerID: s.Customer, BillingStartsOn: on, ActivatedAt: now.UTC()}}, nil
}

func (s ServiceState) decideSuspend(c SuspendService, now time.Time) ([]Event, error) {
	if s.Status != ServiceStatusActive {
		return nil, s.transitionError(ServiceStatusSuspended)
	}
	if c.Reason.IsZero() {
		return nil, invalid("suspension reason", "", "missing")
	}
	on := orToday(c.On, now)
	switch {
	case on.Before(s.BillingStartsOn):
		return nil, s.dateError("suspension date", on, "is before billing started on "+s.BillingStartsOn.String())
	case len(s.Suspensions) > 0 && on.Before(s.Suspensions[len(s.Suspensions)-1].To):
		return nil, s.dateError("suspension date", on, "is before the previous suspension ended on "+s.Suspensions[len(s.Suspensions)-1].To.String())
	}
	return []Event{ServiceSuspended{ServiceID: s.ID, CustomerID: s.Customer, Reason: c.Reason, SuspendedOn: on, SuspendedAt: now.UTC()}}, nil
}

func (s ServiceState) decideResume(c ResumeService, now time.Time) ([]Event, error) {
	if s.Status != ServiceStatusSuspended || len(s.Suspensions) == 0 {
		return nil, s.transitionError(ServiceStatusActive)
	}
	on, began := orToday(c.On, now), s.Suspensions[len(s.Suspensions)-1].From
	if on.Before(began) {
		return nil, s.dateError("resume date", on, "is before the suspension began on "+began.String())
	}
	return []Event{ServiceResumed{ServiceID: s.ID, CustomerID: s.Customer, ResumedOn: on, ResumedAt: now.UTC()}}, nil
}

// orToday returns d, or the date of now when d is zero.
func orToday(d Date, now time.Time) Date {
	if d.IsZero() {
		return DateOf(now)
	}
	return d
}

func (s ServiceState) transitionError(to ServiceStatus) error {
	return &InvalidTransitionError{Entity: "service", ID: s.ID.String(), From: s.Status.String(), To: to.String()}
}

func (s ServiceState) dateError(field string, d Date, reason string) error {
	return &DateNotAllowedError{Entity: "service", ID: s.ID.String(), Field: field, Date: d, Reason: reason}
}

func decideProvisionService(s ServiceState, c ProvisionService, now time.Time) ([]Event, error) {
	if s.Provisioned() {
		return nil, &AlreadyExistsError{Entity: "service", ID: s.ID.String()}
	}
	if err := firstError(
		checkID(c.ServiceID),
		checkCustomerCanSubscribe(c.Customer),
		checkPlanOnSale(c.Plan, c.Customer.Currency),
		checkDate("start date", c.StartDate),
		checkText("install address", c.InstallAddress, MaxAddressRunes, true),
		checkPattern("ONT serial", c.ONTSerial, ontSerialPattern, true, "want 4-32 of A-Z a-z 0-9 -"),
		checkStaticIP(c.StaticIP),
	); err != nil {
		return nil, err
	}
	return []Event{ServiceProvisioned{
		ServiceID: c.ServiceID, CustomerID: c.Customer.ID, Plan: c.Plan.Snapshot(), StartDate: c.StartDate,
		InstallAddress: c.InstallAddress, ONTSerial: c.ONTSerial, StaticIP: c.StaticIP, ProvisionedAt: now.UTC(),
	}}, nil
}

// checkCustomerCanSubscribe requires a registered, active customer.
func checkCustomerCanSubscribe(c CustomerState) error {
	switch {
	case !c.Registered():
		return &NotFoundError{Entity: "customer", ID: "(not registered)"}
	case !c.Active():
		return &CustomerInactiveError{Customer: c.ID}
	}
	return nil
}

// checkPlanOnSale requires a defined, not retired plan priced in currency cur.
func checkPlanOnSale(p PlanState, cur Currency) error {
	switch {
	case !p.Defined():
		return &NotFoundError{Entity: "plan", ID: "(not defined)"}
	case p.Retired:
		return &PlanRetiredError{Plan: p.Code}
	case p.MonthlyPrice.Currency() != cur:
		return &CurrencyMismatchError{Want: cur, Got: p.MonthlyPrice.Currency()}
	}
	return nil
}

// checkStaticIP accepts no address, or a unicast IPv4/IPv6 address without a zone.
func checkStaticIP(ip netip.Addr) error {
	if !ip.IsValid() {
		return nil
	}
	if ip.Zone() != "" || ip.IsUnspecified() || ip.IsMulticast() || ip.IsLoopback() {
		return invalid("static IP", ip.String(), "want a unicast address without a zone")
	}
	return nil
}

func decideChangePlan(s ServiceState, c ChangePlan, now time.Time) ([]Event, error) {
	if s.Status != ServiceStatusActive && s.Status != ServiceStatusSuspended {
		return nil, &InvalidTransitionError{Entity: "service", ID: s.ID.String(), From: s.Status.String(), To: "plan change"}
	}
	if err := checkPlanOnSale(c.NewPlan, s.Plan.MonthlyPrice.Currency()); err != nil {
		return nil, err
	}
	effective := orToday(c.EffectiveDate, now)
	if err := s.checkEffectiveDate(effective); err != nil {
		return nil, err
	}
	if c.NewPlan.Code == s.Plan.Code {
		return nil, invalid("new plan", c.NewPlan.Code.String(), "is already the plan on "+effective.String())
	}
	month := effective.Period()
	remaining := effective.DaysUntil(month.End())
	credit, err := s.Plan.MonthlyPrice.Prorate(remaining, month.Days())
	if err != nil {
		return nil, err
	}
	charge, err := c.NewPlan.MonthlyPrice.Prorate(remaining, month.Days())
	if err != nil {
		return nil, err
	}
	return []Event{ServicePlanChanged{
		ServiceID: s.ID, CustomerID: s.Customer, OldPlan: s.Plan, NewPlan: c.NewPlan.Snapshot(),
		EffectiveDate: effective, DaysRemaining: remaining, DaysInPeriod: month.Days(),
		ProrationCredit: credit, ProrationCharge: charge, ChangedAt: now.UTC(),
	}}, nil
}

// checkEffectiveDate requires a plan change date not before billing started and not before
// the previous change. (The service is in use, so not terminated: no last day to check.)
func (s ServiceState) checkEffectiveDate(d Date) error {
	switch {
	case d.Before(s.BillingStartsOn):
		return s.dateError("effective date", d, "is before billing started on "+s.BillingStartsOn.String())
	case d.Before(s.lastChangeDate()):
		return s.dateError("effective date", d, "is before the previous plan change on "+s.lastChangeDate().String())
	}
	return nil
}

// lastChangeDate returns the effective date of the latest plan change, or the zero Date.
func (s ServiceState) lastChangeDate() Date {
	if len(s.PlanChanges) == 0 {
		return Date{}
	}
	return s.PlanChanges[len(s.PlanChanges)-1].EffectiveDate
}

func decideTerminateService(s ServiceState, c TerminateService, now time.Time) ([]Event, error) {
	if s.Status == ServiceStatusTerminated {
		return nil, s.transitionError(ServiceStatusTerminated)
	}
	c.LastDay = orToday(c.LastDay, now)
	if err := firstError(checkDate("last day", c.LastDay), checkText("reason", c.Reason, MaxReasonRunes, false)); err != nil {
		return nil, err
	}
	switch {
	case c.LastDay.Before(s.StartDate):
		return nil, s.dateError("last day", c.LastDay, "is before the start date "+s.StartDate.String())
	case c.LastDay.Before(s.lastChangeDate()):
		return nil, s.dateError("last day", c.LastDay, "is before the plan change on "+s.lastChangeDate().String())
	}
	return []Event{ServiceTerminated{ServiceID: s.ID, CustomerID: s.Customer, TerminatedOn: c.LastDay, Reason: c.Reason, TerminatedAt: now.UTC()}}, nil
}
