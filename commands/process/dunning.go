package process

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// Dunning limits.
const (
	// DefaultGraceDays is how many days past its due date an invoice may stay unpaid before
	// dunning suspends the customer's services.
	DefaultGraceDays = 14
	// dunningAttempts bounds the evaluations of one customer when its services keep changing
	// between the read and the command.
	dunningAttempts = 3
)

// Dunning applies the dunning policy (domain.DunningDecide) to one customer at a time
// through the command handlers: SuspendService(non_payment) for each active service once an
// invoice is overdue beyond the grace days and money is owed; ResumeService for each service
// suspended for non_payment once the balance is cleared. A service suspended on request is
// never resumed. It is safe for concurrent use.
type Dunning struct {
	h         *commands.Handlers
	graceDays int
}

// NewDunning returns the policy with graceDays (0 to domain.MaxGraceDays).
func NewDunning(h *commands.Handlers, graceDays int) (*Dunning, error) {
	if h == nil {
		return nil, errors.New("process: dunning needs the command handlers")
	}
	if graceDays < 0 || graceDays > domain.MaxGraceDays {
		return nil, &domain.InvalidValueError{Field: "grace days", Value: fmt.Sprint(graceDays), Reason: "want 0 to 365"}
	}
	return &Dunning{h: h, graceDays: graceDays}, nil
}

// GraceDays returns the grace period in days.
func (d *Dunning) GraceDays() int { return d.graceDays }

// DunningResult is what one evaluation changed.
type DunningResult struct {
	Suspended []domain.ServiceID
	Resumed   []domain.ServiceID
	// Results are the commands' results, in the order sent.
	Results []commands.Result
}

// Evaluate decides dunning for customer at t.At and sends the commands the policy names.
// services lists the customer's services; nil looks them up in the billing index. Each
// command is decided on the service version the policy read (Meta.ExpectedVersion), so a
// service that changed meanwhile (suspended on request, terminated) is evaluated again
// rather than acted on blindly. A command's id is derived from t.Cause, the action, the service
// and that version: the same decision on the same state always has the same id, and a later
// episode (resumed, then overdue again) a new one.
//
// It acts on one service at a time, each on a fresh read of the account: a suspension or a
// resumption adjusts the account's billing (a credit note, a supplementary invoice), which can
// change what the policy says about the customer's other services; and an account that
// changed between the read and the command (a billing run's invoice) is read again first.
// Each service is acted on at most once per call, so a policy that flips with its own
// adjustments does not loop.
//
// Errors are the handlers' failures; a customer or service that no longer exists is skipped.
func (d *Dunning) Evaluate(ctx context.Context, t Trigger, customer domain.CustomerID, services []domain.ServiceID) (DunningResult, error) {
	if t.At.IsZero() {
		t.At = time.Now().UTC()
	}
	var out DunningResult
	acted := map[domain.ServiceID]bool{}
	for conflicts := 0; ; {
		more, err := d.evaluateOnce(ctx, t, customer, services, acted, &out)
		switch {
		case errors.Is(err, commands.ErrConflict):
			if conflicts++; conflicts >= dunningAttempts {
				return out, err
			}
		case err != nil || !more:
			return out, err
		}
	}
}

// evaluateOnce reads the account and the services, decides, and acts on the first service
// the policy names that was not acted on yet; more reports whether it did (and the policy
// is to be asked again).
func (d *Dunning) evaluateOnce(ctx context.Context, t Trigger, customer domain.CustomerID, services []domain.ServiceID, acted map[domain.ServiceID]bool, out *DunningResult) (more bool, err error) {
	// The first decision is on the account as of the trigger at least (AccountAt); the read
	// before acting (below), and every decision after an action, are on the account as it
	// stands.
	at := t.Position
	if len(acted) > 0 {
		at = 0
	}
	account, accountVersion, err := d.h.AccountAt(ctx, t.Tenant, customer, at)
	if errors.Is(err, domain.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("dunning %s: %w", customer, err)
	}
	balance, err := account.Balance()
	if err != nil {
		return false, fmt.Errorf("dunning %s: %w", customer, err)
	}
	in := domain.DunningInput{Now: t.At, GraceDays: d.graceDays, Balance: balance, Invoices: account.DunningInvoices()}
	if !mayAct(in) {
		return false, nil
	}
	versions, err := d.readServices(ctx, t, customer, services, &in)
	if err != nil {
		return false, err
	}
	decision, err := domain.DunningDecide(in)
	if err != nil {
		return false, err
	}
	id, suspend, ok := next(decision, acted)
	if !ok {
		return false, nil
	}
	// The command guards the service's version and, inside its decision, the account's
	// (commands.ResumeService.AccountVersion); an account that changed already is not worth
	// taking the service's lock for.
	if _, now, err := d.h.Account(ctx, t.Tenant, customer); err != nil || now != accountVersion {
		if err != nil {
			return false, fmt.Errorf("dunning %s: %w", customer, err)
		}
		return false, fmt.Errorf("dunning %s: the account changed while deciding: %w", customer, commands.ErrConflict)
	}
	if err := d.act(ctx, t, id, decidedOn{service: versions[id], account: accountVersion}, suspend, out); err != nil {
		return false, err // a conflict evaluates the service again
	}
	acted[id] = true
	return true, nil
}

// next returns the first service of decision not in acted, and whether to suspend it.
func next(decision domain.DunningDecision, acted map[domain.ServiceID]bool) (domain.ServiceID, bool, bool) {
	for _, id := range decision.Suspend {
		if !acted[id] {
			return id, true, true
		}
	}
	for _, id := range decision.Resume {
		if !acted[id] {
			return id, false, true
		}
	}
	return domain.ServiceID{}, false, false
}

// mayAct reports whether the policy can name any service for the account alone: owing money
// on an invoice overdue but still within grace changes nothing, whatever the services.
func mayAct(in domain.DunningInput) bool {
	probe := in
	probe.Services = []domain.DunningService{
		{Status: domain.ServiceStatusActive},
		{Status: domain.ServiceStatusSuspended, SuspensionReason: domain.SuspensionNonPayment},
	}
	d, err := domain.DunningDecide(probe)
	return err != nil || len(d.Suspend)+len(d.Resume) > 0
}

// readServices adds the customer's services to in and returns their versions.
func (d *Dunning) readServices(ctx context.Context, t Trigger, customer domain.CustomerID, ids []domain.ServiceID, in *domain.DunningInput) (map[domain.ServiceID]uint64, error) {
	tenant := t.Tenant
	if ids == nil {
		var err error
		if ids, err = d.h.CustomerServicesAt(ctx, tenant, customer, t.Position); err != nil {
			return nil, fmt.Errorf("dunning %s: services: %w", customer, err)
		}
	}
	read, err := d.h.Services(ctx, tenant, ids)
	if err != nil {
		return nil, fmt.Errorf("dunning %s: %w", customer, err)
	}
	versions := make(map[domain.ServiceID]uint64, len(ids))
	for _, id := range ids {
		s, ok := read[id]
		if !ok || s.State.Customer != customer {
			continue
		}
		in.Services = append(in.Services, s.State.DunningService())
		versions[id] = s.Version
	}
	return versions, nil
}

// decidedOn is the versions of the service and of its customer's account a dunning decision
// was made on.
type decidedOn struct {
	service, account uint64
}

// act suspends (or resumes) service, decided on the versions v: the command is refused (a
// conflict, evaluated again) when the service or the account is at another version by then.
func (d *Dunning) act(ctx context.Context, t Trigger, service domain.ServiceID, v decidedOn, suspend bool, out *DunningResult) error {
	action := "resume"
	if suspend {
		action = "suspend"
	}
	m := t.meta(ActorDunning, deriveID(t.Cause, "dunning", action, t.Tenant.String(), service.String(), strconv.FormatUint(v.service, 10)))
	m.ExpectedVersion = &v.service
	var res commands.Result
	var err error
	if suspend {
		res, err = d.h.SuspendService(ctx, m, commands.SuspendService{ServiceID: service, Reason: domain.SuspensionNonPayment, AccountVersion: &v.account})
	} else {
		res, err = d.h.ResumeService(ctx, m, commands.ResumeService{ServiceID: service, AccountVersion: &v.account})
	}
	switch {
	case errors.Is(err, commands.ErrConflict):
		return err // evaluated again by Evaluate
	case nothingToDo(err):
		return nil
	case err != nil:
		return fmt.Errorf("dunning: %s service %s: %w", action, service, err)
	}
	if res.Changed() {
		out.Results = append(out.Results, res)
		if suspend {
			out.Suspended = append(out.Suspended, service)
		} else {
			out.Resumed = append(out.Resumed, service)
		}
	}
	return nil
}
