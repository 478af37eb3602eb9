package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// Limits of loading a stream.
const (
	// readPageEvents is how many events one ReadStream call asks for.
	readPageEvents = 1000
	// maxStreamEvents bounds the events folded for one stream: a longer stream is refused
	// rather than exhausting memory.
	maxStreamEvents = 1_000_000
	// recoveryScanEvents is how many events Meta.Recovering reads at a time, looking back from
	// the end of a stream for the events of its command id, and how far back it looks unless
	// Meta.LapsedClaim lets the command id's time bound the search (see findApplied).
	recoveryScanEvents = 500
	// recoveryClockSkew is how much earlier than its command id's time a lapsed claim's events
	// may have been recorded: the claiming process made the id and its writer stamped the
	// events, so this covers that one clock stepping back between the two.
	recoveryClockSkew = time.Minute
	// conflictBackoffMax bounds the jittered sleep between decisions after a version conflict.
	conflictBackoffMax = 5 * time.Millisecond
)

// aggregate binds a domain state type to its stream kind and its apply chains.
type aggregate[S any] struct {
	kind domain.StreamKind
	// chain returns a new apply chain: each call applies events to the state the previous
	// call returned (or to a state the chain did not make, which it never modifies).
	chain func() applyFunc[S]
	// owner, if set, returns a new owner: an apply chain that a stream's batches keep from
	// one batch to the next (ownedState in batch.go).
	owner func() stateOwner[S]
}

// stateOwner is an apply chain that keeps the maps of the states it returns across Commits and
// writes them in place (domain.AccountOwner): its states must never be shared. Rollback undoes
// every write since the last Commit.
type stateOwner[S any] interface {
	Apply(S, ...domain.Event) (S, error)
	Commit()
	Rollback()
}

// applyFunc applies events in order to a state and returns the new one; on error it returns
// the state it was given and a *domain.FoldError. A chain may write in place what it copied
// itself: after an error, every state it returned before is to be discarded.
type applyFunc[S any] func(S, ...domain.Event) (S, error)

var (
	accountAggregate = aggregate[domain.AccountState]{kind: domain.StreamCustomer, chain: func() applyFunc[domain.AccountState] {
		return new(domain.AccountApplier).Apply
	}, owner: func() stateOwner[domain.AccountState] { return new(domain.AccountOwner) }}
	serviceAggregate    = aggregate[domain.ServiceState]{kind: domain.StreamService, chain: eachOf(domain.ApplyService)}
	planAggregate       = aggregate[domain.PlanState]{kind: domain.StreamPlan, chain: eachOf(domain.ApplyPlan)}
	billingRunAggregate = aggregate[domain.BillingRunState]{kind: domain.StreamBillingRun, chain: func() applyFunc[domain.BillingRunState] {
		return new(domain.BillingRunApplier).Apply
	}}
)

// eachOf makes a chain of an apply of one event, for states with no map to grow.
func eachOf[S any](apply func(S, domain.Event) (S, error)) func() applyFunc[S] {
	return func() applyFunc[S] {
		return func(s S, events ...domain.Event) (S, error) {
			next := s
			for i, e := range events {
				var err error
				if next, err = apply(next, e); err != nil {
					return s, &domain.FoldError{Index: i, EventType: e.EventType(), Err: err}
				}
			}
			return next, nil
		}
	}
}

// decideFunc decides a command against the state s at instant now.
type decideFunc[S any] func(s S, now time.Time) ([]domain.Event, error)

// target is the stream a command appends to.
type target[S any] struct {
	agg    aggregate[S]
	stream string
	// require, if set, returns the error to answer when the stream's aggregate does not exist
	// (a *domain.NotFoundError naming it); it runs before decide.
	require func(S) error
}

func conflictError(stream string, expected uint64, attempts int, err error) error {
	ce := &ConflictError{Stream: stream, Expected: expected, Attempts: attempts}
	var wev *eventstore.WrongExpectedVersionError
	if errors.As(err, &wev) {
		ce.Actual = wev.Actual
	}
	return ce
}

// backoff is a random pause growing with the attempt, at most conflictBackoffMax.
func backoff(attempt, maxAttempts int) time.Duration {
	ceiling := int64(conflictBackoffMax) * int64(attempt) / int64(maxAttempts)
	return time.Duration(rand.Int64N(ceiling + 1)) // #nosec G404 -- jitter needs no unpredictability
}

// cachedSnapshot returns the stream's cached snapshot, or the empty state at version 0.
func (h *Handlers) cachedSnapshot(stream string, zero any) snapshot {
	if s, ok := h.cache.get(stream); ok {
		return s
	}
	return snapshot{state: zero}
}

// heldWait bounds how long load waits for a stream's owned state to come back from the
// leader holding it (see stateCache.getOrWait) before it reads the stream from its start.
const heldWait = 200 * time.Millisecond

// readSnapshot is cachedSnapshot for a reader that may wait (at most heldWait) for the owned
// state a leader holds, when the cache has nothing else of the stream.
func (h *Handlers) readSnapshot(ctx context.Context, stream string, zero any) snapshot {
	s, ok, back := h.cache.getOrWait(stream)
	if back != nil {
		t := time.NewTimer(heldWait)
		select {
		case <-back:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
		s, ok = h.cache.get(stream)
	}
	if ok {
		return s
	}
	return snapshot{state: zero}
}

// load returns the stream's current state and version, read from the store after what the
// cache holds. It is how the billing run, provisioning and dunning read the aggregates they
// consult.
func load[S any](ctx context.Context, h *Handlers, agg aggregate[S], stream string) (S, snapshot, error) {
	return loadAt(ctx, h, agg, stream, 0)
}

// loadAt is load for a reader that needs the stream as of position pos at least: a cached
// snapshot whose last event is at pos or later holds every event of the stream up to pos, and
// is returned without reading the stream. pos 0 is load.
func loadAt[S any](ctx context.Context, h *Handlers, agg aggregate[S], stream string, pos eventstore.Position) (S, snapshot, error) {
	snap := h.readSnapshot(ctx, stream, *new(S))
	if pos > 0 && snap.version > 0 && snap.position >= pos {
		return stateOf[S](snap), snap, nil
	}
	snap, err := refresh(ctx, h, agg, stream, snap)
	if err != nil {
		return *new(S), snapshot{}, err
	}
	return stateOf[S](snap), snap, nil
}

// refresh folds the events of stream after snap.version onto snap and caches the result.
func refresh[S any](ctx context.Context, h *Handlers, agg aggregate[S], stream string, snap snapshot) (snapshot, error) {
	state, apply := stateOf[S](snap), agg.chain()
	for {
		envs, err := h.store.ReadStream(ctx, stream, snap.version+1, eventstore.Forwards, readPageEvents)
		if errors.Is(err, eventstore.ErrStreamNotFound) && snap.version == 0 {
			return snapshot{state: state}, nil
		}
		if err != nil {
			return snapshot{}, fmt.Errorf("load %s: %w", stream, err)
		}
		for i := range envs {
			if state, err = applyEnvelope(apply, state, &envs[i], snap.version); err != nil {
				return snapshot{}, err
			}
			snap.version, snap.position = envs[i].Version, envs[i].Position
		}
		if snap.version > maxStreamEvents {
			return snapshot{}, fmt.Errorf("load %s: more than %d events: %w", stream, maxStreamEvents, domain.ErrInvariant)
		}
		if len(envs) < readPageEvents {
			snap.state = state
			h.cache.put(stream, snap)
			return snap, nil
		}
	}
}

// applyEnvelope decodes env, which must be the event after version prev, and applies it.
func applyEnvelope[S any](apply applyFunc[S], state S, env *eventstore.Envelope, prev uint64) (S, error) {
	if env.Version != prev+1 {
		return state, fmt.Errorf("%w: invariant: stream %s jumps from version %d to %d", domain.ErrInvariant, env.StreamID, prev, env.Version)
	}
	e, err := codec.Decode(env)
	if err != nil {
		return state, &UndecodableError{Stream: env.StreamID, Version: env.Version, Err: err}
	}
	next, err := apply(state, e)
	if err != nil {
		return state, fmt.Errorf("load %s version %d: %w", env.StreamID, env.Version, err)
	}
	return next, nil
}

// findApplied looks back from the end of stream for the events appended under m.CommandID. If
// there are some, the command already ran: its result is rebuilt from them, as it was (the
// version and position are those of its last event).
//
// It looks in the last recoveryScanEvents events: process managers set Recovering on every
// command they send, so that a redelivered event runs nothing twice, and they retry within
// moments. A lapsed claim's retry (Meta.LapsedClaim) may come a whole lease later on a busy
// stream: its command id is the claim's UUIDv7 and its events were recorded after that time,
// so the search reads the stream backwards page by page until it passes the command's events
// or reaches an event recorded before that time (less recoveryClockSkew). A command that ran is
// then found however busy the stream was, and one that did not costs the events since its claim.
// An id whose time is not one (not version 7, or later than now) keeps the last-page bound.
func (h *Handlers) findApplied(ctx context.Context, m Meta, stream string) (Result, bool, error) {
	if m.Applied != nil && m.Applied.Stream == stream && m.Applied.Version > 0 {
		return h.appliedAt(ctx, m, stream, m.Applied.Version)
	}
	var (
		since time.Time
		timed bool // since bounds the search, not recoveryScanEvents
	)
	if m.LapsedClaim {
		since, timed = commandTime(m.CommandID, time.Now())
	}
	want := m.CommandID.String()
	var found []eventstore.Envelope // newest first
	from := eventstore.EndOfStream
	for {
		envs, err := h.store.ReadStream(ctx, stream, from, eventstore.Backwards, recoveryScanEvents)
		if errors.Is(err, eventstore.ErrStreamNotFound) {
			return Result{}, false, nil
		}
		if err != nil {
			return Result{}, false, fmt.Errorf("recover %s: %w", stream, err)
		}
		for i := range envs {
			e := &envs[i]
			if e.Metadata.CommandID == want {
				found = append(found, *e)
				continue
			}
			if len(found) > 0 || (timed && e.RecordedAt().Before(since)) {
				return appliedResult(stream, found) // a command's events are contiguous
			}
		}
		// Without a time, the search goes on past the last page only to finish the command's
		// events when the page ended among them.
		if len(envs) < recoveryScanEvents || envs[len(envs)-1].Version <= 1 || (!timed && len(found) == 0) {
			return appliedResult(stream, found)
		}
		from = envs[len(envs)-1].Version - 1
	}
}

// appliedAt returns the result of the events of m.CommandID in stream from version on: where
// the event store recorded the command's key (Meta.Applied). A command's events are
// contiguous, so the read stops at the first event of another command.
func (h *Handlers) appliedAt(ctx context.Context, m Meta, stream string, version uint64) (Result, bool, error) {
	want := m.CommandID.String()
	var found []eventstore.Envelope
	for from := version; ; {
		envs, err := h.store.ReadStream(ctx, stream, from, eventstore.Forwards, recoveryScanEvents)
		if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
			return Result{}, false, fmt.Errorf("recover %s: %w", stream, err)
		}
		end := len(envs) < recoveryScanEvents
		for i := range envs {
			if envs[i].Metadata.CommandID != want {
				end = true
				break
			}
			found = append(found, envs[i])
		}
		if end {
			slices.Reverse(found) // newest first, as appliedResult takes them
			return appliedResult(stream, found)
		}
		from = envs[len(envs)-1].Version + 1
	}
}

// commandTime is the time before which id's events cannot have been recorded, and whether id
// has one: its UUIDv7 time less recoveryClockSkew, unless that is after now (the wall clock,
// as the stores stamp events with, not the clock commands decide at).
func commandTime(id uuid.UUID, now time.Time) (time.Time, bool) {
	if id.Version() != 7 {
		return time.Time{}, false
	}
	sec, nsec := id.Time().UnixTime()
	t := time.Unix(sec, nsec)
	if t.After(now.Add(recoveryClockSkew)) {
		return time.Time{}, false // not a time: an id derived from a random one
	}
	return t.Add(-recoveryClockSkew), true
}

// appliedResult is the result of a command that appended found (newest first) to stream.
func appliedResult(stream string, found []eventstore.Envelope) (Result, bool, error) {
	res := Result{Stream: stream}
	for i := len(found) - 1; i >= 0; i-- { // oldest first
		if err := res.addStored(&found[i]); err != nil {
			return Result{}, false, err
		}
	}
	return res, len(res.Events) > 0, nil
}
