package webhooks

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/integration"
)

// Limits of an endpoint's fields.
const (
	MaxEventTypes       = 64
	MaxDescriptionBytes = 500
)

// Errors of the endpoints' operations; the HTTP layer maps them (http.go).
var (
	// ErrNotFound: no such endpoint or delivery in the caller's tenant.
	ErrNotFound = errors.New("webhooks: not found")
	// ErrKeyReused: an Idempotency-Key was used before with another request.
	ErrKeyReused = errors.New("webhooks: idempotency key reused with another request")
	// ErrInFlight: a delivery is being attempted right now; redeliver it after the attempt.
	ErrInFlight = errors.New("webhooks: delivery in flight")
	// ErrBadEventType: an event type filter names no public type (integration.PublicTypes).
	ErrBadEventType = errors.New("webhooks: unknown event type")
)

// Endpoint is a tenant's webhook endpoint, as the query API shows it: never its secret.
type Endpoint struct {
	ID          uuid.UUID
	Tenant      string
	URL         string
	Description string
	// EventTypes filters the events delivered: public types ("billing.invoice_issued") or a
	// category and ".*" ("billing.*"); empty: every event.
	EventTypes []string
	Enabled    bool
	// FromPosition: the endpoint receives the events after this global position (the head
	// when it was registered); a replay sends earlier ones.
	FromPosition    eventstore.Position
	CreatedAt       time.Time
	UpdatedAt       time.Time
	SecretRotatedAt *time.Time
	// Failures counts the endpoint's failed attempts in a row; PausedUntil is when the next
	// one may start (nil: now). A success sets both back.
	Failures    int
	PausedUntil *time.Time
}

// Matches reports whether the endpoint's filter lets publicType through.
func Matches(filter []string, publicType string) bool {
	if len(filter) == 0 {
		return true
	}
	for _, f := range filter {
		if f == publicType {
			return true
		}
		if cat, ok := strings.CutSuffix(f, ".*"); ok && strings.HasPrefix(publicType, cat+".") {
			return true
		}
	}
	return false
}

// ValidateEventTypes checks a filter: at most MaxEventTypes entries, each a public type or a
// category of them followed by ".*", without repeats. It returns the filter sorted.
func ValidateEventTypes(filter []string) ([]string, error) {
	if len(filter) > MaxEventTypes {
		return nil, fmt.Errorf("%w: at most %d event types", ErrBadEventType, MaxEventTypes)
	}
	known := integration.PublicTypes()
	out := slices.Clone(filter)
	for _, f := range out {
		if slices.Contains(known, f) {
			continue
		}
		cat, ok := strings.CutSuffix(f, ".*")
		if ok && slices.ContainsFunc(known, func(t string) bool { return strings.HasPrefix(t, cat+".") }) {
			continue
		}
		return nil, fmt.Errorf("%w: %q (want a type of docs/integration-events.md, or a category such as billing.*)", ErrBadEventType, f)
	}
	slices.Sort(out)
	if len(slices.Compact(slices.Clone(out))) != len(out) {
		return nil, fmt.Errorf("%w: a type is listed twice", ErrBadEventType)
	}
	return out, nil
}

// Delivery is one event on its way to one endpoint, with its attempts.
type Delivery struct {
	ID            uuid.UUID
	EndpointID    uuid.UUID
	EventID       uuid.UUID
	EventType     string
	Position      eventstore.Position
	Status        string // pending, delivered, failed
	Attempts      int
	NextAttemptAt *time.Time
	ExpiresAt     time.Time
	LastStatus    *int
	LastError     *string
	LastLatencyMS *int
	DeliveredAt   *time.Time
	CreatedAt     time.Time
	Log           []Attempt
}

// Attempt is one HTTP request of a delivery.
type Attempt struct {
	N          int
	StartedAt  time.Time
	LatencyMS  int
	StatusCode *int
	Error      *string
}

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusDelivered = "delivered"
	StatusFailed    = "failed"
)
