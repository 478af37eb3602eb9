package commands

import (
	"context"
	"net/netip"
	"time"

	"github.com/dotmac/ledger/domain"
)

// ProvisionService subscribes a customer to a plan. The service id is generated.
type ProvisionService struct {
	CustomerID     domain.CustomerID
	PlanCode       domain.PlanCode
	StartDate      domain.Date
	InstallAddress string
	ONTSerial      string     // optional
	StaticIP       netip.Addr // optional (the zero Addr: none)
}

// The lifecycle commands below take effect on a business date (zero: today), past or future;
// see domain.ActivateService and the others for the rules. Each answers with the date it took
// effect (Result.Effective) and, when it moved days of a month already invoiced, the billing
// adjustment it issued at once (Result.Adjustment).

// ActivateService puts a provisioned service in use from On (zero: the later of today and the
// start date).
type ActivateService struct {
	ServiceID domain.ServiceID
	On        domain.Date
}

// SuspendService blocks an active service from On (zero: today).
type SuspendService struct {
	ServiceID domain.ServiceID
	Reason    domain.SuspensionReason
	On        domain.Date
	// AccountVersion, when set, is the version of the customer's account the suspension was
	// decided on (dunning decides on the account, not on the service alone): see
	// checkAccountVersion.
	AccountVersion *uint64
}

// ResumeService ends a suspension from On (zero: today).
type ResumeService struct {
	ServiceID domain.ServiceID
	On        domain.Date
	// AccountVersion, when set, is the version of the customer's account the resumption was
	// decided on: see checkAccountVersion.
	AccountVersion *uint64
}

// ChangePlan moves a service in use to another plan from EffectiveDate (zero: today).
type ChangePlan struct {
	ServiceID     domain.ServiceID
	PlanCode      domain.PlanCode
	EffectiveDate domain.Date
}

// TerminateService ends a service; LastDay is its last day of service (inclusive; zero: today).
type TerminateService struct {
	ServiceID domain.ServiceID
	LastDay   domain.Date
	Reason    string
}

// serviceTarget is the stream of service id, which must exist.
func serviceTarget(m Meta, id domain.ServiceID) target[domain.ServiceState] {
	return target[domain.ServiceState]{
		agg: serviceAggregate, stream: domain.ServiceStream(m.Tenant, id),
		require: func(s domain.ServiceState) error {
			if !s.Provisioned() {
				return &domain.NotFoundError{Entity: "service", ID: id.String()}
			}
			return nil
		},
	}
}

// ProvisionService provisions a service for an active customer on a plan on sale in the
// customer's currency; Result.ID is the new service id.
//
// Errors: *domain.NotFoundError for an unknown customer or plan; *domain.CustomerInactiveError;
// *domain.PlanRetiredError; *domain.CurrencyMismatchError; *domain.InvalidValueError.
func (h *Handlers) ProvisionService(ctx context.Context, m Meta, c ProvisionService) (Result, error) {
	return h.run("ProvisionService", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		account, _, err := h.Account(ctx, m.Tenant, c.CustomerID)
		if err != nil {
			return Result{}, err
		}
		plan, err := h.Plan(ctx, m.Tenant, c.PlanCode)
		if err != nil {
			return Result{}, err
		}
		id, err := idFor(m, "service", domain.NewServiceID)
		if err != nil {
			return Result{}, err
		}
		cmd := domain.ProvisionService{ServiceID: id, Customer: account.Customer, Plan: plan, StartDate: c.StartDate,
			InstallAddress: c.InstallAddress, ONTSerial: c.ONTSerial, StaticIP: c.StaticIP}
		t := target[domain.ServiceState]{agg: serviceAggregate, stream: domain.ServiceStream(m.Tenant, id)}
		res, err := execute(ctx, h, m, t, func(s domain.ServiceState, now time.Time) ([]domain.Event, error) {
			return domain.DecideService(s, cmd, now)
		})
		res.ID, res.Effective = id.String(), effectiveOf(res.Events)
		return res, err
	})
}

// ActivateService activates a provisioned service.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError.
func (h *Handlers) ActivateService(ctx context.Context, m Meta, c ActivateService) (Result, error) {
	return h.onService(ctx, "ActivateService", m, c.ServiceID, domain.ActivateService{On: c.On}, nil)
}

// SuspendService suspends an active service.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError; *domain.InvalidValueError;
// *ConflictError when c.AccountVersion is set and the account is at another version.
func (h *Handlers) SuspendService(ctx context.Context, m Meta, c SuspendService) (Result, error) {
	return h.onService(ctx, "SuspendService", m, c.ServiceID, domain.SuspendService{Reason: c.Reason, On: c.On}, c.AccountVersion)
}

// ResumeService resumes a suspended service.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError; *ConflictError when
// c.AccountVersion is set and the account is at another version.
func (h *Handlers) ResumeService(ctx context.Context, m Meta, c ResumeService) (Result, error) {
	return h.onService(ctx, "ResumeService", m, c.ServiceID, domain.ResumeService{On: c.On}, c.AccountVersion)
}

// TerminateService terminates a service.
//
// Errors: *domain.NotFoundError; *domain.InvalidTransitionError; *domain.DateNotAllowedError.
func (h *Handlers) TerminateService(ctx context.Context, m Meta, c TerminateService) (Result, error) {
	return h.onService(ctx, "TerminateService", m, c.ServiceID, domain.TerminateService{LastDay: c.LastDay, Reason: c.Reason}, nil)
}

// ChangePlan changes an active service's plan, prorated by day.
//
// Errors: *domain.NotFoundError for the service or the plan; *domain.InvalidTransitionError;
// *domain.PlanRetiredError; *domain.CurrencyMismatchError; *domain.DateNotAllowedError;
// *domain.InvalidValueError.
func (h *Handlers) ChangePlan(ctx context.Context, m Meta, c ChangePlan) (Result, error) {
	return h.run("ChangePlan", func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		plan, err := h.Plan(ctx, m.Tenant, c.PlanCode)
		if err != nil {
			return Result{}, err
		}
		res, err := execute(ctx, h, m, serviceTarget(m, c.ServiceID), func(s domain.ServiceState, now time.Time) ([]domain.Event, error) {
			return domain.DecideService(s, domain.ChangePlan{NewPlan: plan, EffectiveDate: c.EffectiveDate}, now)
		})
		res.ID, res.Effective = c.ServiceID.String(), effectiveOf(res.Events)
		return h.withAdjustment(ctx, m, res, err)
	})
}

// onService decides a lifecycle command on service id, then issues the billing adjustment
// the change calls for. With account set, the command is decided only while the service's
// customer's account is at that version (checkAccountVersion).
func (h *Handlers) onService(ctx context.Context, name string, m Meta, id domain.ServiceID, cmd domain.ServiceCommand, account *uint64) (Result, error) {
	return h.run(name, func() (Result, error) {
		m, err := m.withDefaults()
		if err != nil {
			return Result{}, err
		}
		res, err := execute(ctx, h, m, serviceTarget(m, id), func(s domain.ServiceState, now time.Time) ([]domain.Event, error) {
			if account != nil {
				if err := h.checkAccountVersion(ctx, m.Tenant, s.Customer, *account); err != nil {
					return nil, err
				}
			}
			return domain.DecideService(s, cmd, now)
		})
		res.ID, res.Effective = id.String(), effectiveOf(res.Events)
		return h.withAdjustment(ctx, m, res, err)
	})
}

// Service returns a service's current state and stream version (dunning reads its status).
//
// Errors: *domain.NotFoundError if the service is not provisioned.
func (h *Handlers) Service(ctx context.Context, tenant domain.TenantID, id domain.ServiceID) (domain.ServiceState, uint64, error) {
	s, snap, err := load(ctx, h, serviceAggregate, domain.ServiceStream(tenant, id))
	if err == nil && !s.Provisioned() {
		err = &domain.NotFoundError{Entity: "service", ID: id.String()}
	}
	return s, snap.version, err
}

// VersionedService is a service's state and the stream version it was read at.
type VersionedService struct {
	State   domain.ServiceState
	Version uint64
}

// Services returns the current state and version of each of ids that is provisioned, read in
// one round trip (eventstore.ReadStreams, after what the cache holds) rather than one per
// service; ids not provisioned are left out of the map, as Service would refuse them.
func (h *Handlers) Services(ctx context.Context, tenant domain.TenantID, ids []domain.ServiceID) (map[domain.ServiceID]VersionedService, error) {
	snaps := make(map[string]snapshot, len(ids))
	for _, id := range ids {
		stream := domain.ServiceStream(tenant, id)
		snaps[stream] = h.cachedSnapshot(stream, domain.ServiceState{})
	}
	if err := loadMany(ctx, h, serviceAggregate, snaps); err != nil {
		return nil, err
	}
	out := make(map[domain.ServiceID]VersionedService, len(ids))
	for _, id := range ids {
		snap := snaps[domain.ServiceStream(tenant, id)]
		if s := stateOf[domain.ServiceState](snap); s.Provisioned() {
			out[id] = VersionedService{State: s, Version: snap.version}
		}
	}
	return out, nil
}

// checkAccountVersion refuses a service command decided on the customer's account at version
// want (dunning's) when the account is at another version now: a write that landed after that
// decision (an invoice that made the account overdue again, a payment that cleared it) is to be
// decided on again, not slipped past. It reads the account as late as it can, inside the
// service command's decision, right before its append. The account and the service are two
// streams appended apart, so a write landing between this read and the append is not seen
// here; dunning's next evaluation (the write's own trigger, or the scheduler's sweep) acts on it.
//
// Errors: *ConflictError naming the account stream, with the version found.
func (h *Handlers) checkAccountVersion(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID, want uint64) error {
	stream := domain.CustomerStream(tenant, customer)
	_, snap, err := load(ctx, h, accountAggregate, stream)
	if err != nil {
		return err
	}
	if snap.version != want {
		return &ConflictError{Stream: stream, Expected: want, Actual: snap.version, Attempts: 1}
	}
	return nil
}
