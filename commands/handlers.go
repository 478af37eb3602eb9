package commands

import (
	"context"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/background"
)

// Defaults of Config.
const (
	// DefaultCacheStreams is how many folded streams the state cache keeps. A year of a
	// customer's account folds to some tens of kilobytes, so this bounds the cache to about
	// 100 MB; raise it (serve --command-cache-streams) where memory allows.
	DefaultCacheStreams = 2_000
	// DefaultMaxAttempts bounds how often a command is decided again after a version conflict.
	DefaultMaxAttempts = 10
)

// InvoiceNumbers hands out invoice numbers: Next returns 1, 2, 3, ... for each tenant and year,
// never the same number twice. It must be safe for concurrent use.
type InvoiceNumbers interface {
	Next(ctx context.Context, tenant domain.TenantID, year int) (int64, error)
}

// InvoiceNumberRanges is implemented by InvoiceNumbers that hand out many numbers at once:
// NextRange takes count numbers (count >= 1) and returns the first; the others follow it
// (first, first+1, ..., first+count-1), as count calls of Next would give them. A billing run
// numbers a group of customers' invoices with one call.
type InvoiceNumberRanges interface {
	NextRange(ctx context.Context, tenant domain.TenantID, year, count int) (int64, error)
}

// Config configures Handlers. Store and Numbers are required; Index is required by the billing
// run only.
type Config struct {
	Store   eventstore.Store
	Numbers InvoiceNumbers
	Index   BillingIndex
	// Now is the clock (default time.Now). It is read once per decision.
	Now func() time.Time
	// Registerer receives the command metrics (nil: none).
	Registerer prometheus.Registerer
	// CacheStreams bounds the state cache (default DefaultCacheStreams; negative: no cache).
	CacheStreams int
	// MaxAttempts bounds the decisions per command on version conflicts (default DefaultMaxAttempts).
	MaxAttempts int
	// Background is the gate a billing run's CPU-bound stretches (folding the accounts it
	// read, deciding, encoding) take turns through, so the process's requests find a
	// processor free (default background.Shared()).
	Background *background.Gate
	// Elastic admits a billing run's groups of customers, so that the run gives way to the
	// process's requests (nil: the run bills BillingRunWorkers groups at once, always).
	Elastic Elastic
}

// Elastic admits units of background work that give way to the foreground (an
// admission.Controller). Admit waits until one more unit may start and returns the function
// that ends it, to be called once when the unit is done; it returns ctx's error, and no
// function, if ctx ends first. It must be safe for concurrent use.
type Elastic interface {
	Admit(ctx context.Context) (done func(), err error)
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.CacheStreams == 0 {
		c.CacheStreams = DefaultCacheStreams
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = DefaultMaxAttempts
	}
	if c.Background == nil {
		c.Background = background.Shared()
	}
}

// Validate reports a missing required field.
func (c *Config) Validate() error {
	switch {
	case c.Store == nil:
		return errors.New("commands: Config.Store is required")
	case c.Numbers == nil:
		return errors.New("commands: Config.Numbers is required")
	}
	return nil
}

// Handlers executes commands. It is safe for concurrent use; create one per process (its cache
// and stream locks are per instance) with New.
type Handlers struct {
	store       eventstore.Store
	numbers     InvoiceNumbers
	index       BillingIndex
	now         func() time.Time
	cache       *stateCache
	locks       *streamLocks
	metrics     *metrics
	maxAttempts int
	jobs        billingJobs
	background  *background.Gate
	elastic     Elastic
	// groupReadEvents bounds a billing group's reads (groupReadEvents; tests set it lower).
	groupReadEvents int
}

// New returns Handlers over cfg.
func New(cfg Config) (*Handlers, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	cache := newStateCache(cfg.CacheStreams)
	return &Handlers{
		store: cfg.Store, numbers: cfg.Numbers, index: cfg.Index, now: cfg.Now,
		cache: cache, locks: newStreamLocks(), metrics: m, maxAttempts: cfg.MaxAttempts,
		background: cfg.Background, elastic: cfg.Elastic, groupReadEvents: groupReadEvents,
	}, nil
}

// Meta is who runs a command and why; it becomes the metadata of every event the command
// appends. Tenant is required: every stream a command touches is the tenant's.
type Meta struct {
	Tenant        domain.TenantID
	Actor         string // the token subject, or the process manager's name
	CorrelationID string
	CausationID   string // the request or event that caused the command
	RequestID     string
	// IdempotencyKey is the client's key, recorded in the events' metadata.
	IdempotencyKey string
	// CommandID identifies this execution of the command (zero: a new UUIDv7). Every id the
	// command creates is derived from it; run a command again with the same CommandID and
	// Recovering set to make it exactly-once.
	CommandID uuid.UUID
	// Recovering says an earlier execution with the same CommandID may have appended already:
	// the handler then returns that execution's result when its events are in the stream's
	// last 500 events.
	Recovering bool
	// LapsedClaim, with Recovering, says CommandID is the UUIDv7 an idempotency claim was made
	// with, and the claim lapsed without an answer (its process died): the earlier execution's
	// events were recorded after the id's time, so the handler looks for them back to that time
	// however many events other commands appended since (a busy stream takes many more than 500
	// during a claim's lease), not in the last 500 only.
	LapsedClaim bool
	// ExpectedVersion, when set, is the stream version the caller saw (HTTP If-Match): the
	// command is decided on exactly that version and a conflict is a *ConflictError.
	ExpectedVersion *uint64
	// At, when set, is the instant the command is decided at instead of the clock. It is for
	// trusted callers that replay a schedule (the demo seeder); the HTTP API never sets it.
	At time.Time
	// Key, when set, is the request's idempotency key as the event store records it with the
	// command's events (a store that records keys: see RecordsKeys). Its CommandID is the
	// request's command id, which the commands a command runs in turn under derived ids keep:
	// every append of the request carries the key, and the first to record it holds it for the
	// request. An append finding the key held by another command fails with
	// *eventstore.KeyTakenError, and nothing of it is stored.
	Key *eventstore.AppendKey
	// Applied, with Recovering, is where the earlier execution with CommandID appended its
	// first event carrying Key, as the event store recorded it: the handler reads that stream
	// from there instead of searching back for the command's events.
	Applied *AppliedAt
}

// AppliedAt is a stream and the version of an event in it.
type AppliedAt struct {
	Stream  string
	Version uint64
}

// withDefaults fills in the command id.
func (m Meta) withDefaults() (Meta, error) {
	if m.Tenant.IsZero() {
		return m, &domain.InvalidValueError{Field: "tenant", Reason: "missing"}
	}
	if m.CommandID == uuid.Nil {
		id, err := uuid.NewV7()
		if err != nil {
			return m, err
		}
		m.CommandID = id
	}
	return m, nil
}

func (m Meta) metadata() eventstore.Metadata {
	return eventstore.Metadata{
		TenantID: m.Tenant.String(), Actor: m.Actor, CorrelationID: m.CorrelationID, CausationID: m.CausationID,
		CommandID: m.CommandID.String(), IdempotencyKey: m.IdempotencyKey, RequestID: m.RequestID,
	}
}

// RecordsKeys reports whether the event store records idempotency keys with the events it
// appends (Meta.Key), and returns it to look keys up and record the keys of commands that
// appended nothing.
func (h *Handlers) RecordsKeys() (eventstore.KeyRecorder, bool) {
	kr, ok := h.store.(eventstore.KeyRecorder)
	if !ok || !kr.RecordsKeys() {
		return nil, false
	}
	return kr, true
}

// Now returns the instant a command with m is decided at (m.At, else the clock).
func (h *Handlers) Now(m Meta) time.Time { return h.clock(m) }

func (h *Handlers) clock(m Meta) time.Time {
	if !m.At.IsZero() {
		return m.At.UTC()
	}
	return h.now().UTC()
}

// Result is what a command did.
type Result struct {
	// ID names the entity the command created or acted on (a customer, service, invoice,
	// payment or credit note id, a plan code, a billing period).
	ID string
	// Stream is the stream appended to; Version its version afterwards (the HTTP ETag).
	Stream  string
	Version uint64
	// Position is the global position of the last event appended, or of the stream's last
	// event when the command changed nothing: a reader that has reached it sees the effect.
	Position eventstore.Position
	// Events are the events appended (none when the command changed nothing).
	Events []domain.Event
	// Effective is the business date a service lifecycle command took effect on (zero for
	// other commands); after the day the command was decided, it is scheduled.
	Effective domain.Date
	// Adjustment is the billing adjustment a service lifecycle command issued at once (nil:
	// none needed); Position is then that of its document.
	Adjustment *Adjustment
}

// Changed reports whether the command appended anything.
func (r Result) Changed() bool { return len(r.Events) > 0 }
