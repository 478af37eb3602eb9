// Package readmodeltest builds event histories for the read models' tests and benchmarks:
// every event is decided by the domain's deciders against the state folded so far, so a
// history is always one the command side could have recorded. History records commands one
// by one (fixtures), and is the in-memory sink of the customer simulator (domainsim):
// Generate simulates whole ISPs (benchmarks, property tests).
package readmodeltest

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
)

// History is a global feed under construction: events decided on the state of their
// stream, numbered in order. The zero History is not usable: use NewHistory.
type History struct {
	// Now is the instant the next command is decided at; Tick advances it.
	Now time.Time
	// WithData also fills each envelope's Data with the event's JSON (for loading into an
	// event store); off by default because the read models only use the decoded payload.
	WithData bool

	rng      *rand.Rand
	events   []projections.Event
	versions map[string]uint64
	accounts map[string]domain.AccountState
	services map[string]domain.ServiceState
	plans    map[string]domain.PlanState
	runs     map[string]domain.BillingRunState
	// invoiced holds the customers each run (by stream) has invoiced: see BillingRun.
	invoiced map[string]map[domain.CustomerID]bool
}

// NewHistory returns an empty history starting at now, with ids drawn from seed.
func NewHistory(now time.Time, seed uint64) *History {
	return &History{Now: now.UTC(), rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), // #nosec G404 -- reproducible test data, not secrets
		versions: map[string]uint64{}, accounts: map[string]domain.AccountState{},
		services: map[string]domain.ServiceState{}, plans: map[string]domain.PlanState{}, runs: map[string]domain.BillingRunState{},
		invoiced: map[string]map[domain.CustomerID]bool{}}
}

// Events returns the feed so far (shared, not copied).
func (h *History) Events() []projections.Event { return h.events }

// Tick advances the clock by d.
func (h *History) Tick(d time.Duration) { h.Now = h.Now.Add(d) }

// ID returns a fresh UUIDv7 with the current time, from the history's seed.
func (h *History) ID() uuid.UUID { return domainsim.UUIDv7(h.rng, h.Now) }

var _ domainsim.Sink = (*History)(nil)

// Record is the History as a simulation's sink: it records the events cmd decides against the
// simulation's state, at the simulated instant and by the command's actor, in the order the
// commands come (run the simulation with one worker: the History is not safe for concurrent
// use). Streams recorded this way are the simulation's alone: the History's own deciders
// (Account, Service, ...) do not see them.
func (h *History) Record(cmd domainsim.Command) ([]domain.Event, error) {
	evs, err := cmd.Decide()
	if err != nil {
		return nil, err
	}
	md := eventstore.Metadata{TenantID: cmd.Tenant.String(), Actor: cmd.Actor.String(), RecordedAt: cmd.At.UTC()}
	return evs, h.record(md, cmd.Stream, evs)
}

// Account decides cmd on the account of customer c of tenant t and records its events.
func (h *History) Account(t domain.TenantID, c domain.CustomerID, cmd domain.AccountCommand) ([]domain.Event, error) {
	stream := domain.CustomerStream(t, c)
	evs, err := domain.DecideAccount(h.accounts[stream], cmd, h.Now)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", cmd, err)
	}
	state := h.accounts[stream]
	for _, e := range evs {
		if state, err = domain.ApplyAccount(state, e); err != nil {
			return nil, err
		}
	}
	h.accounts[stream] = state
	return evs, h.record(h.metadata(t), stream, evs)
}

// AccountState returns the account of customer c of tenant t as folded so far.
func (h *History) AccountState(t domain.TenantID, c domain.CustomerID) domain.AccountState {
	return h.accounts[domain.CustomerStream(t, c)]
}

// Service decides cmd on service s of tenant t and records its events.
func (h *History) Service(t domain.TenantID, s domain.ServiceID, cmd domain.ServiceCommand) ([]domain.Event, error) {
	stream := domain.ServiceStream(t, s)
	evs, err := domain.DecideService(h.services[stream], cmd, h.Now)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", cmd, err)
	}
	state := h.services[stream]
	for _, e := range evs {
		if state, err = domain.ApplyService(state, e); err != nil {
			return nil, err
		}
	}
	h.services[stream] = state
	return evs, h.record(h.metadata(t), stream, evs)
}

// ServiceState returns service s of tenant t as folded so far.
func (h *History) ServiceState(t domain.TenantID, s domain.ServiceID) domain.ServiceState {
	return h.services[domain.ServiceStream(t, s)]
}

// Plan decides cmd on plan code of tenant t and records its events.
func (h *History) Plan(t domain.TenantID, code domain.PlanCode, cmd domain.PlanCommand) ([]domain.Event, error) {
	stream := domain.PlanStream(t, code)
	evs, err := domain.DecidePlan(h.plans[stream], cmd, h.Now)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", cmd, err)
	}
	state := h.plans[stream]
	for _, e := range evs {
		if state, err = domain.ApplyPlan(state, e); err != nil {
			return nil, err
		}
	}
	h.plans[stream] = state
	return evs, h.record(h.metadata(t), stream, evs)
}

// PlanState returns plan code of tenant t as folded so far.
func (h *History) PlanState(t domain.TenantID, code domain.PlanCode) domain.PlanState {
	return h.plans[domain.PlanStream(t, code)]
}

// BillingRun decides cmd on the billing run of period p of tenant t and records its events.
// The customers a run has invoiced are kept in a set of the History's own instead of being
// folded into the run's state (ApplyBillingRun copies that map at every event, which is
// quadratic over a run of tens of thousands of customers); a customer invoiced twice is
// refused all the same.
func (h *History) BillingRun(t domain.TenantID, p domain.Period, cmd domain.BillingRunCommand) ([]domain.Event, error) {
	stream := domain.BillingRunStream(t, p)
	if c, ok := cmd.(domain.RecordCustomerInvoiced); ok && h.invoiced[stream][c.CustomerID] {
		return nil, fmt.Errorf("%T: %w: customer %s already invoiced by this run", cmd, domain.ErrRejected, c.CustomerID)
	}
	evs, err := domain.DecideBillingRun(h.runs[stream], cmd, h.Now)
	if err != nil {
		return nil, fmt.Errorf("%T: %w", cmd, err)
	}
	state := h.runs[stream]
	for _, e := range evs {
		if inv, ok := e.(domain.BillingRunCustomerInvoiced); ok {
			if h.invoiced[stream] == nil {
				h.invoiced[stream] = map[domain.CustomerID]bool{}
			}
			h.invoiced[stream][inv.CustomerID] = true
			continue
		}
		if state, err = domain.ApplyBillingRun(state, e); err != nil {
			return nil, err
		}
	}
	h.runs[stream] = state
	return evs, h.record(h.metadata(t), stream, evs)
}

// metadata is that of the History's own commands: by tenant t, recorded now.
func (h *History) metadata(t domain.TenantID) eventstore.Metadata {
	return eventstore.Metadata{TenantID: t.String(), Actor: "readmodeltest", RecordedAt: h.Now}
}

// record appends evs to the feed, each in an envelope of stream at the next version and
// position, with metadata md and an id of its recorded-at time.
func (h *History) record(md eventstore.Metadata, stream string, evs []domain.Event) error {
	for _, e := range evs {
		h.versions[stream]++
		env := eventstore.Envelope{
			ID: domainsim.UUIDv7(h.rng, md.RecordedAt), StreamID: stream, Version: h.versions[stream],
			Position: eventstore.Position(len(h.events) + 1), Type: e.EventType(), SchemaVersion: e.SchemaVersion(), Metadata: md,
		}
		if h.WithData {
			data, err := json.Marshal(e)
			if err != nil {
				return err
			}
			env.Data = data
		}
		h.events = append(h.events, projections.Event{Envelope: env, Payload: e})
	}
	return nil
}
