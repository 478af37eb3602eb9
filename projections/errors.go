package projections

import (
	"errors"
	"fmt"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/pgerr"
)

// Sentinel errors of the runtime.
var (
	// ErrUnknownProjection: no registered projection has that name.
	ErrUnknownProjection = errors.New("unknown projection")
	// ErrNotBuilt: the projection has no live build yet (no projector has started it).
	ErrNotBuilt = errors.New("projection has no live build yet")
	// ErrRebuildInProgress: a rebuild of the projection is already running (in any process).
	ErrRebuildInProgress = errors.New("a rebuild of this projection is already running")
	// ErrInvalidRebuild: the rebuild options break a rule (as-of without --into, a schema
	// name that is taken or invalid, a position beyond the head).
	ErrInvalidRebuild = errors.New("invalid rebuild request")
	// ErrNotReached: WaitFor's context ended before the projection reached the position.
	ErrNotReached = errors.New("projection has not reached the position")
	// ErrEmptyCopy: an as-of copy in which the projection folded no event (nothing of it had
	// happened by then); its schema is dropped.
	ErrEmptyCopy = errors.New("the as-of copy is empty: the projection folded no event")
	// ErrOtherVersion: the live build is of another version than this binary's projection, so
	// this binary must not apply to it (Retry).
	ErrOtherVersion = errors.New("the live build is of another version than this binary's")
	// ErrStalled: the projection is stalled (see *StalledError).
	ErrStalled = errors.New("projection is stalled")
)

// ApplyError says that a projection could not fold a batch of events: Apply (or decoding one
// of the events) failed. The live projector retries it; if it keeps failing, the projection
// stalls at the first event that fails alone.
type ApplyError struct {
	Projection  string
	First, Last eventstore.Position
	Err         error
}

func (e *ApplyError) Error() string {
	if e.First == e.Last {
		return fmt.Sprintf("projection %s: apply position %d: %v", e.Projection, e.First, e.Err)
	}
	return fmt.Sprintf("projection %s: apply positions %d..%d: %v", e.Projection, e.First, e.Last, e.Err)
}

// Unwrap exposes Apply's (or the decoder's) error.
func (e *ApplyError) Unwrap() error { return e.Err }

// StalledError describes a stalled projection: it stopped at Position, whose event failed
// with Reason, and applies nothing until a restart or a rebuild.
type StalledError struct {
	Projection string
	Position   eventstore.Position
	Reached    eventstore.Position
	Reason     string
}

func (e *StalledError) Error() string {
	return fmt.Sprintf("projection %s is stalled at position %d (applied up to %d): %s", e.Projection, e.Position, e.Reached, e.Reason)
}

// Is makes errors.Is(err, ErrStalled) true.
func (e *StalledError) Is(target error) bool { return target == ErrStalled }

// NotReachedError is WaitFor's answer when its context ends first: the projection had
// reached Reached, not Want. It matches ErrNotReached and unwraps to the context's error.
type NotReachedError struct {
	Projection string
	Want       eventstore.Position
	Reached    eventstore.Position
	Err        error
}

func (e *NotReachedError) Error() string {
	return fmt.Sprintf("projection %s reached position %d, not %d: %v", e.Projection, e.Reached, e.Want, e.Err)
}

// Is makes errors.Is(err, ErrNotReached) true.
func (e *NotReachedError) Is(target error) bool { return target == ErrNotReached }

// Unwrap exposes the context's error (context.DeadlineExceeded or context.Canceled).
func (e *NotReachedError) Unwrap() error { return e.Err }

// errHalt tells the live handler of a projection to stop: the projection is stalled (here or
// in another process), its live build has another version than this binary's, or the
// subscription lost its place. The reconciler starts it again when that changes.
var errHalt = errors.New("live projector halted")

// transient reports whether err is a database condition that passes by itself (a lost
// connection, a read-only or out-of-resources database, a deadlock, a serialization failure,
// a cancelled statement), which must never stall a projection however often it recurs.
// Package pgerr sorts them for every store, so the command and query sides agree.
func transient(err error) bool { return pgerr.Of(err).Retryable() }
