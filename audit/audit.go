// Package audit reconstructs and checks money figures from the raw event history, without
// trusting the read models: the history of a stream or of one invoice or payment, the state of
// an aggregate, a customer's balance or the trial balance as of a date or a position, a full
// verification of the hash chains and the double-entry ledger, and a self-checking export of
// a period's journal, invoices and payments.
package audit

import (
	"context"
	"runtime"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// PageSize is how many events one read of the feed returns.
const PageSize = 5000

// Auditor reads the event store. It is safe for concurrent use.
type Auditor struct {
	store       eventstore.Store
	workers     int
	checkpoints CheckpointSource // exports carry these signed checkpoints (nil: none)
}

// New returns an Auditor over store.
func New(store eventstore.Store) *Auditor {
	return &Auditor{store: store, workers: max(1, runtime.GOMAXPROCS(0))}
}

// PositionIndex finds the last position recorded at or before an instant. The PostgreSQL
// store implements it with an index; other stores fall back to a scan.
type PositionIndex interface {
	PositionAt(ctx context.Context, t time.Time) (eventstore.Position, error)
}

// Cutoff bounds a replay: either a global position (inclusive) or the end of a business day
// (events whose OccurredAt is on or before that UTC date). The zero Cutoff means "now".
type Cutoff struct {
	Position eventstore.Position
	Date     time.Time // a UTC date; the whole day is included
}

// IsZero reports whether c has no bound.
func (c Cutoff) IsZero() bool { return c.Position == 0 && c.Date.IsZero() }

// endOfDay is the first instant after c.Date's day.
func (c Cutoff) endOfDay() time.Time {
	d := c.Date.UTC()
	return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, 1)
}
