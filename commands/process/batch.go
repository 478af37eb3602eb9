package process

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

// feedBatchEvents bounds the events one message of a group's feed carries: the subscriber
// puts into one message what the feed has ready (one page of it), up to this many, and the
// group acknowledges (and saves its offset) once per message.
const feedBatchEvents = 1000

// feedLinger is how long a group's subscriber lets the feed's events gather after a read
// that did not fill a message (eventstore/watermill.SubscriberConfig.Linger): under load a
// group handles at most about 1/feedLinger batches a second, each a tracker check (and a
// catch-up) whatever its size, rather than one per commit; an event waits at most that much
// longer for its command. A group behind by a full message or more reads on at once.
const feedLinger = 100 * time.Millisecond

// dunningTypes are the event types the dunning group reacts to; it skips the rest undecoded.
var dunningTypes = map[string]bool{
	domain.InvoiceMarkedOverdue{}.EventType(): true, domain.PaymentRecorded{}.EventType(): true,
	domain.CreditNoteIssued{}.EventType(): true, domain.InvoiceVoided{}.EventType(): true,
	domain.CustomerCreditApplied{}.EventType(): true,
}

// origin is where a handled event came from: its id (the cause of the commands it leads to),
// its tenant and its position.
type origin struct {
	cause    uuid.UUID
	tenant   domain.TenantID
	position eventstore.Position
}

// feedBatch returns the events of a message of a group's feed (a batch message, see
// eventstore/watermill.BatchMessage).
func feedBatch(msg *message.Message) ([]eventstore.Envelope, error) {
	envs, err := esw.Envelopes(msg)
	if err != nil {
		return nil, fmt.Errorf("message %s: %w", msg.UUID, err)
	}
	return envs, nil
}

// originOfEnvelope is where env came from: its id, its tenant and its position.
func originOfEnvelope(env *eventstore.Envelope) (origin, error) {
	tenant, _, _, err := domain.ParseStream(env.StreamID)
	if err != nil {
		return origin{}, fmt.Errorf("event %s: %w", env.ID, err)
	}
	return origin{cause: env.ID, tenant: tenant, position: env.Position}, nil
}

// handleBillingBatch is the billing group's handler: each BillingRunStarted of the batch, in
// feed order, is driven to completion (onBillingRunStarted). The batch is acknowledged only
// once every one of them is; a failure nacks it and the whole batch is handled again (a run
// completed already is left alone at once).
func (m *Manager) handleBillingBatch(msg *message.Message) error {
	envs, err := feedBatch(msg)
	if err != nil {
		return err
	}
	ctx := msg.Context()
	for i := range envs {
		env := &envs[i]
		if env.Type != (domain.BillingRunStarted{}).EventType() {
			continue
		}
		o, e, err := decodeFeedEvent(env)
		if err != nil {
			return err
		}
		started, ok := e.(domain.BillingRunStarted)
		if !ok {
			return fmt.Errorf("invariant: event %s of type %s decodes to %T", env.ID, env.Type, e)
		}
		if err := m.onBillingRunStarted(ctx, o, &started); err != nil {
			return err
		}
	}
	return nil
}

// handleDunningBatch is the dunning group's handler.
func (m *Manager) handleDunningBatch(msg *message.Message) error {
	envs, err := feedBatch(msg)
	if err != nil {
		return err
	}
	return m.dunningBatch(msg.Context(), envs)
}

// dunningBatch evaluates dunning for the customers of envs' events the dunning group reacts
// to (InvoiceMarkedOverdue, PaymentRecorded, CreditNoteIssued, InvoiceVoided,
// CustomerCreditApplied), each customer once, with its first such event of the batch as the
// cause, in the order of those first events. One statement asks the tracker which of them
// the policy could act on (Tracker.MayNeedDunningAll, which catches up first when behind);
// only those are evaluated (unless their tenant is on hold: one statement asks for all of
// them, Holds.HeldAmong, instead of one per evaluation sent), each on the account as of its
// last event of the batch at least (Handlers.AccountAt). An evaluation reads the
// customer's state afresh, so evaluating a customer once for several of its events decides
// what evaluating it after each would have decided last. A failure returns the error: the
// batch is nacked and handled again, and the evaluations done already find nothing to do
// (or answer with their first result, for the same cause).
func (m *Manager) dunningBatch(ctx context.Context, envs []eventstore.Envelope) error {
	var (
		refs    []CustomerRef
		origins []origin
		upto    []eventstore.Position // the position of each customer's last event in envs
		seen    = map[CustomerRef]int{}
		last    eventstore.Position
	)
	for i := range envs {
		env := &envs[i]
		if !dunningTypes[env.Type] {
			continue
		}
		o, e, err := decodeFeedEvent(env)
		if err != nil {
			return err
		}
		customer, ok := dunningCustomer(e)
		if !ok {
			return fmt.Errorf("invariant: event %s of type %s decodes to %T", env.ID, env.Type, e)
		}
		last = env.Position
		ref := CustomerRef{Tenant: o.tenant, Customer: customer}
		if k, ok := seen[ref]; ok {
			upto[k] = env.Position
			continue
		}
		seen[ref] = len(refs)
		refs = append(refs, ref)
		origins = append(origins, o)
		upto = append(upto, env.Position)
	}
	if len(refs) == 0 {
		return nil
	}
	may, err := m.tracker.MayNeedDunningAll(ctx, refs, last, domain.DateOf(m.now()), m.cfg.GraceDays)
	if err != nil {
		return err
	}
	held, err := m.heldAmong(ctx, refs, may)
	if err != nil {
		return err
	}
	for i, ref := range refs {
		if !may[i] {
			continue
		}
		if held[ref.Tenant] {
			m.log.Debug().Str("tenant", ref.Tenant.String()).Msg("process: tenant on hold, no dunning evaluation sent")
			continue
		}
		if err := m.sendUnheld(ctx, &EvaluateDunning{Tenant: ref.Tenant, Customer: ref.Customer, Cause: origins[i].cause, At: m.now(),
			Position: upto[i]}); err != nil {
			return err
		}
	}
	return nil
}

// heldAmong returns which tenants of the refs that may need dunning are on hold, in one
// statement for the batch (none when no ref may).
func (m *Manager) heldAmong(ctx context.Context, refs []CustomerRef, may []bool) (map[domain.TenantID]bool, error) {
	var tenants []domain.TenantID
	for i, ref := range refs {
		if may[i] && !slices.Contains(tenants, ref.Tenant) {
			tenants = append(tenants, ref.Tenant)
		}
	}
	if len(tenants) == 0 {
		return nil, nil
	}
	return m.holds.HeldAmong(ctx, tenants)
}

// dunningCustomer returns the customer of an event the dunning group reacts to.
func dunningCustomer(e domain.Event) (domain.CustomerID, bool) {
	switch e := e.(type) {
	case domain.InvoiceMarkedOverdue:
		return e.CustomerID, true
	case domain.PaymentRecorded:
		return e.CustomerID, true
	case domain.CreditNoteIssued:
		return e.CustomerID, true
	case domain.InvoiceVoided:
		return e.CustomerID, true
	case domain.CustomerCreditApplied:
		return e.CustomerID, true
	}
	return domain.CustomerID{}, false
}

// decodeFeedEvent returns where env came from (originOfEnvelope) and its decoded event.
func decodeFeedEvent(env *eventstore.Envelope) (origin, domain.Event, error) {
	o, err := originOfEnvelope(env)
	if err != nil {
		return origin{}, nil, err
	}
	e, err := codec.Decode(env)
	if err != nil {
		return origin{}, nil, err
	}
	return o, e, nil
}
