package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/internal/wait"
)

// Limits of loading a stream.
const (
	// readPageEvents is how many events one ReadStream call asks for.
	readPageEvents = 1000
	// maxStreamEvents bounds the events folded for one stream: a longer stream is refused
	// rather than exhausting memory.
	maxStreamEvents = 1_000_000
	// recoveryScanEvents is how far back from the end of a stream Meta.Recovering looks for
	// the events of the same command id.
	recoveryScanEvents = 500
	// conflictBackoffMax bounds the jittered sleep between decisions after a version conflict.
	conflictBackoffMax = 5 * time.Millisecond
)

// aggregate binds a domain state type to its stream kind and Apply function.
type aggregate[S any] struct {
	kind  domain.StreamKind
	apply func(S, domain.Event) (S, error)
}

var (
	accountAggregate    = aggregate[domain.AccountState]{domain.StreamCustomer, domain.ApplyAccount}
	serviceAggregate    = aggregate[domain.ServiceState]{domain.StreamService, domain.ApplyService}
	planAggregate       = aggregate[domain.PlanState]{domain.StreamPlan, domain.ApplyPlan}
	billingRunAggregate = aggregate[domain.BillingRunState]{domain.StreamBillingRun, domain.ApplyBillingRun}
)

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

// execute runs the handler loop of doc.go for one command on t's stream.
func execute[S any](ctx context.Context, h *Handlers, m Meta, t target[S], decide decideFunc[S]) (Result, error) {
	unlock, err := h.locks.lock(ctx, t.stream)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	if m.Recovering {
		if res, found, err := h.findApplied(ctx, m, t.stream); err != nil || found {
			return res, err
		}
	}
	l := loop[S]{h: h, m: m, t: t, decide: decide}
	return l.run(ctx)
}

// loop is one execution of the handler loop.
type loop[S any] struct {
	h        *Handlers
	m        Meta
	t        target[S]
	decide   decideFunc[S]
	snap     snapshot
	verified bool // snap was read from the store (or proven current by an append)
}

func (l *loop[S]) run(ctx context.Context) (Result, error) {
	l.snap = l.h.cachedSnapshot(l.t.stream, *new(S))
	for attempt := 1; ; attempt++ {
		events, err := l.decideFresh(ctx)
		if err != nil {
			return Result{}, err
		}
		if len(events) == 0 {
			return Result{Stream: l.t.stream, Version: l.snap.version, Position: l.snap.position}, nil
		}
		res, err := l.h.append(ctx, l.m, l.t.agg.kind, l.t.stream, l.snap.version, events)
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			return l.done(res, events, err)
		}
		if l.m.ExpectedVersion != nil || attempt >= l.h.maxAttempts {
			return Result{}, conflictError(l.t.stream, l.snap.version, attempt, err)
		}
		l.h.metrics.retries.WithLabelValues(l.t.agg.kind.String()).Inc()
		if err := wait.Sleep(ctx, backoff(attempt, l.h.maxAttempts)); err != nil {
			return Result{}, err
		}
		if err := l.refresh(ctx); err != nil {
			return Result{}, err
		}
	}
}

// decideFresh decides on the current snapshot. A refusal or a no-op decided on an unverified
// snapshot is not trusted: the stream is read and the command decided again.
func (l *loop[S]) decideFresh(ctx context.Context) ([]domain.Event, error) {
	for {
		if err := l.checkExpected(ctx); err != nil {
			return nil, err
		}
		events, err := l.decideOnce()
		if l.verified || (err == nil && len(events) > 0) {
			return events, err
		}
		if err := l.refresh(ctx); err != nil {
			return nil, err
		}
	}
}

// checkExpected makes sure a command with Meta.ExpectedVersion is decided on that version.
func (l *loop[S]) checkExpected(ctx context.Context) error {
	want := l.m.ExpectedVersion
	if want == nil || *want == l.snap.version {
		return nil
	}
	if !l.verified {
		if err := l.refresh(ctx); err != nil {
			return err
		}
	}
	if *want != l.snap.version {
		return &ConflictError{Stream: l.t.stream, Expected: *want, Actual: l.snap.version, Attempts: 1}
	}
	return nil
}

func (l *loop[S]) decideOnce() ([]domain.Event, error) {
	state := stateOf[S](l.snap)
	if l.t.require != nil {
		if err := l.t.require(state); err != nil {
			return nil, err
		}
	}
	return l.decide(state, l.h.clock(l.m))
}

func (l *loop[S]) refresh(ctx context.Context) error {
	snap, err := refresh(ctx, l.h, l.t.agg, l.t.stream, l.snap)
	if err != nil {
		return err
	}
	l.snap, l.verified = snap, true
	return nil
}

// done applies the appended events to the snapshot, caches it and returns the result.
func (l *loop[S]) done(res eventstore.AppendResult, events []domain.Event, err error) (Result, error) {
	if err != nil {
		return Result{}, err
	}
	state := stateOf[S](l.snap)
	for _, e := range events {
		if state, err = l.t.agg.apply(state, e); err != nil {
			return Result{}, fmt.Errorf("%w: apply the events just decided on %s: %w", domain.ErrInvariant, l.t.stream, err)
		}
	}
	l.h.cache.put(l.t.stream, snapshot{state: state, version: res.LastVersion, position: res.LastPosition})
	return Result{Stream: l.t.stream, Version: res.LastVersion, Position: res.LastPosition, Events: events}, nil
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

// load returns the stream's current state and version, read from the store after what the
// cache holds. It is how the billing run and provisioning read the aggregates they consult.
func load[S any](ctx context.Context, h *Handlers, agg aggregate[S], stream string) (S, snapshot, error) {
	snap, err := refresh(ctx, h, agg, stream, h.cachedSnapshot(stream, *new(S)))
	if err != nil {
		return *new(S), snapshot{}, err
	}
	return stateOf[S](snap), snap, nil
}

// refresh folds the events of stream after snap.version onto snap and caches the result.
func refresh[S any](ctx context.Context, h *Handlers, agg aggregate[S], stream string, snap snapshot) (snapshot, error) {
	state := stateOf[S](snap)
	for {
		envs, err := h.store.ReadStream(ctx, stream, snap.version+1, eventstore.Forwards, readPageEvents)
		if errors.Is(err, eventstore.ErrStreamNotFound) && snap.version == 0 {
			return snapshot{state: state}, nil
		}
		if err != nil {
			return snapshot{}, fmt.Errorf("load %s: %w", stream, err)
		}
		for i := range envs {
			if state, err = applyEnvelope(agg, state, &envs[i], snap.version); err != nil {
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
func applyEnvelope[S any](agg aggregate[S], state S, env *eventstore.Envelope, prev uint64) (S, error) {
	if env.Version != prev+1 {
		return state, fmt.Errorf("%w: invariant: stream %s jumps from version %d to %d", domain.ErrInvariant, env.StreamID, prev, env.Version)
	}
	e, err := codec.Decode(env)
	if err != nil {
		return state, &UndecodableError{Stream: env.StreamID, Version: env.Version, Err: err}
	}
	next, err := agg.apply(state, e)
	if err != nil {
		return state, fmt.Errorf("load %s version %d: %w", env.StreamID, env.Version, err)
	}
	return next, nil
}

// append encodes events with ids derived from the command and appends them at expected.
func (h *Handlers) append(ctx context.Context, m Meta, kind domain.StreamKind, stream string, expected uint64, evs []domain.Event) (eventstore.AppendResult, error) {
	md := m.metadata()
	data := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		name, version, raw, err := codec.EncodeEvent(e)
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%w: %w", domain.ErrInvariant, err)
		}
		data[i] = eventstore.EventData{ID: eventID(m, stream, expected, i), Type: name, SchemaVersion: version, Data: raw, Metadata: md}
	}
	start := time.Now()
	res, err := h.store.Append(ctx, stream, eventstore.Exact(expected), data...)
	h.metrics.observeAppend(kind, err, time.Since(start))
	return res, err
}

// findApplied looks at the end of stream for events appended under m.CommandID. If there are
// some, the command already ran: its result is rebuilt from them, as it was (the version and
// position are those of its last event).
func (h *Handlers) findApplied(ctx context.Context, m Meta, stream string) (Result, bool, error) {
	envs, err := h.store.ReadStream(ctx, stream, eventstore.EndOfStream, eventstore.Backwards, recoveryScanEvents)
	if errors.Is(err, eventstore.ErrStreamNotFound) {
		return Result{}, false, nil
	}
	if err != nil {
		return Result{}, false, fmt.Errorf("recover %s: %w", stream, err)
	}
	res := Result{Stream: stream}
	want := m.CommandID.String()
	for i := len(envs) - 1; i >= 0; i-- { // oldest first
		if envs[i].Metadata.CommandID != want {
			continue
		}
		e, err := codec.Decode(&envs[i])
		if err != nil {
			return Result{}, false, &UndecodableError{Stream: stream, Version: envs[i].Version, Err: err}
		}
		res.Events = append(res.Events, e)
		res.Version, res.Position = envs[i].Version, envs[i].Position
	}
	return res, len(res.Events) > 0, nil
}
