// Package eventstore defines the append-only event store every other package builds on: the
// Store port, the envelope each stored event travels in, the typed errors backends return, the
// per-stream hash chain, and the codec that turns stored payloads into current event types.
//
// Backends live in subpackages (postgres, kurrentdb) and all pass the same conformance suite
// (package conformance).
package eventstore

import (
	"context"
	"fmt"
	"time"
)

// Position is a place in the global feed ($all). Positions grow strictly in commit order; a
// reader that has processed every event up to and including position p resumes with
// ReadAll(p, ...). Position 0 is "before the first event".
type Position uint64

// Direction tells ReadStream which way to read.
type Direction int

const (
	// Forwards reads from the given version towards the end of the stream.
	Forwards Direction = iota
	// Backwards reads from the given version towards the start of the stream.
	Backwards
)

func (d Direction) String() string {
	if d == Backwards {
		return "backwards"
	}
	return "forwards"
}

// EndOfStream, passed as the start version of a backwards read, starts at the newest event.
const EndOfStream uint64 = 0

// Limits every backend enforces. Each is checked before anything is written.
const (
	// MaxStreamIDBytes is the longest stream id accepted.
	MaxStreamIDBytes = 200
	// MaxTypeNameBytes is the longest event type name accepted.
	MaxTypeNameBytes = 200
	// MaxEventDataBytes is the largest JSON payload one event may carry (data only).
	MaxEventDataBytes = 1 << 20
	// MaxEventsPerAppend is the most events one Append call may carry.
	MaxEventsPerAppend = 10_000
	// MaxReadLimit is the most events one ReadStream or ReadAll call returns.
	MaxReadLimit = 10_000
	// MaxRangeLimit is the most events one RangeReader.ReadRange call reads.
	MaxRangeLimit = 100_000
)

// Store is the event store port. Implementations must be safe for concurrent use.
//
// Versions are 1-based: the first event of a stream has version 1, and a stream's version is
// the version of its last event.
type Store interface {
	// Append atomically appends events to the end of stream if the stream's current version
	// matches expected. On success every event is durable and has a global position; on any
	// error none is stored. A version mismatch returns *WrongExpectedVersionError (matching
	// ErrWrongExpectedVersion). Appending events whose ids are already stored, to the same
	// stream in the same order, returns the result of the first append and stores nothing;
	// ids stored otherwise return ErrDuplicateEventID (a backend without a global index of
	// event ids declares that it only detects them within the stream: see conformance).
	Append(ctx context.Context, stream string, expected ExpectedVersion, events ...EventData) (AppendResult, error)

	// ReadStream returns up to limit events of stream starting at version from (inclusive),
	// in the given direction. A backwards read from EndOfStream starts at the newest event.
	// A read backwards, or forwards from version 1, of a stream with no events returns
	// ErrStreamNotFound; a forward read from a later version may return no events instead.
	ReadStream(ctx context.Context, stream string, from uint64, dir Direction, limit int) ([]Envelope, error)

	// ReadAll returns up to limit events with a position greater than after, in global
	// order. It never skips a committed event and never returns one twice.
	ReadAll(ctx context.Context, after Position, limit int) ([]Envelope, error)

	// SubscribeAll returns a subscription that yields every event with a position greater
	// than after: first those already stored (catch-up), then new ones as they commit (live).
	SubscribeAll(ctx context.Context, after Position) (Subscription, error)

	// Head returns the position of the newest committed event (0 when the store is empty).
	Head(ctx context.Context) (Position, error)
}

// Subscription is a resumable, ordered view of the global feed.
type Subscription interface {
	// Next blocks until at least one event after the subscription's place is committed, and
	// returns those available (at most a backend-chosen batch size), in global order. It
	// returns ctx.Err() when ctx ends and ErrSubscriptionClosed after Close. The envelopes
	// may be shared with the store's other subscriptions: read them, never write to them
	// (copy the slice to change one).
	Next(ctx context.Context) ([]Envelope, error)
	// Position is the position of the last event Next returned (or the starting point).
	Position() Position
	// Close releases the subscription. It is safe to call more than once.
	Close() error
}

// ExpectedVersion is the optimistic-concurrency condition of an Append.
type ExpectedVersion struct {
	kind    expectKind
	version uint64
}

type expectKind uint8

const (
	expectAny expectKind = iota
	expectNoStream
	expectStreamExists
	expectExact
)

// Any appends whatever the stream's state.
func Any() ExpectedVersion { return ExpectedVersion{kind: expectAny} }

// NoStream appends only if the stream has no events.
func NoStream() ExpectedVersion { return ExpectedVersion{kind: expectNoStream} }

// StreamExists appends only if the stream has at least one event.
func StreamExists() ExpectedVersion { return ExpectedVersion{kind: expectStreamExists} }

// Exact appends only if the stream's version (its last event's version) is v. Exact(0) is
// the same as NoStream.
func Exact(v uint64) ExpectedVersion {
	if v == 0 {
		return NoStream()
	}
	return ExpectedVersion{kind: expectExact, version: v}
}

// IsAny, IsNoStream, IsStreamExists and ExactVersion let backends inspect the condition.
func (e ExpectedVersion) IsAny() bool          { return e.kind == expectAny }
func (e ExpectedVersion) IsNoStream() bool     { return e.kind == expectNoStream }
func (e ExpectedVersion) IsStreamExists() bool { return e.kind == expectStreamExists }

// ExactVersion returns the expected version and true when the condition is Exact.
func (e ExpectedVersion) ExactVersion() (uint64, bool) {
	return e.version, e.kind == expectExact
}

// Check reports whether a stream at version current (0 = no stream) satisfies the condition.
func (e ExpectedVersion) Check(current uint64) bool {
	switch e.kind {
	case expectNoStream:
		return current == 0
	case expectStreamExists:
		return current > 0
	case expectExact:
		return current == e.version
	default:
		return true
	}
}

func (e ExpectedVersion) String() string {
	switch e.kind {
	case expectNoStream:
		return "no stream"
	case expectStreamExists:
		return "stream exists"
	case expectExact:
		return fmt.Sprintf("version %d", e.version)
	default:
		return "any"
	}
}

// StreamOrderReader is implemented by stores that can read the whole store grouped by stream
// (streams in id order, each stream's events in version order). Verifiers use it to hold one
// stream in memory at a time instead of every stream at once.
type StreamOrderReader interface {
	// ReadAllByStream returns up to limit events after (afterStream, afterVersion) in
	// (stream id, version) order; ("", 0) starts at the beginning.
	ReadAllByStream(ctx context.Context, afterStream string, afterVersion uint64, limit int) ([]Envelope, error)
	// ReadFeedMarks returns the position, recorded-at time and hash of up to limit events
	// after position after, in feed order: the feed's shape without its payloads.
	ReadFeedMarks(ctx context.Context, after Position, limit int) ([]FeedMark, error)
}

// FeedMark is an event's place in the feed, without its payload.
type FeedMark struct {
	Position   Position
	RecordedAt time.Time
	Hash       []byte
}

// RangeReader is implemented by stores that can read the global feed in bulk, by position
// range, into memory the caller owns. Replays (projection rebuilds, catch-ups, as-of copies)
// and feed consumers read through it; the conformance suite checks it on every backend.
type RangeReader interface {
	// ReadRange reads the events with after < position <= upto, in global order, at most
	// limit (1 to MaxRangeLimit). Each event is read straight into the envelope next returns
	// (called once per event, just before the event is read), so a bulk read copies nothing.
	// It returns how many envelopes it filled; on an error the envelope last handed out may
	// be partly filled and is not counted.
	ReadRange(ctx context.Context, after, upto Position, limit int, next func() *Envelope) (int, error)
	// DensePositions reports whether positions are 1, 2, 3, ... without holes, so that a
	// range of n positions holds n events and ranges can be read in parallel.
	DensePositions() bool
	// PositionAt returns the position of the last event recorded at or before t (0: none).
	PositionAt(ctx context.Context, t time.Time) (Position, error)
	// RecordedAfter returns when the first event after pos was recorded; ok is false when
	// there is none.
	RecordedAfter(ctx context.Context, pos Position) (at time.Time, ok bool, err error)
}
