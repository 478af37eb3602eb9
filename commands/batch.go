package commands

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/internal/wait"
)

// maxBatchCommands bounds the commands of one stream decided and appended together.
const maxBatchCommands = 256

// request is one command waiting for its stream: execute queues it, and whichever caller holds
// the stream's lock runs it in a batch and answers it.
type request[S any] struct {
	ctx    context.Context
	m      Meta
	t      target[S]
	decide decideFunc[S]

	done chan struct{} // closed, with res and err set, by the batch that ran it
	res  Result
	err  error
}

func (r *request[S]) finish(res Result, err error) {
	r.res, r.err = res, err
	close(r.done)
}

func (r *request[S]) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// execute runs the handler loop of doc.go for one command on t's stream. The command waits in
// the stream's queue; the caller holding the stream's lock takes every command waiting at that
// moment and runs them as one batch (runBatch): decided in order, each on the state the ones
// before it leave, and appended together with one expected version. So commands of one busy
// stream cost one append per round trip between them, not one each.
func execute[S any](ctx context.Context, h *Handlers, m Meta, t target[S], decide decideFunc[S]) (Result, error) {
	r := &request[S]{ctx: ctx, m: m, t: t, decide: decide, done: make(chan struct{})}
	l, release := h.locks.join(t.stream)
	defer release()
	l.enqueue(r)
	for {
		select {
		case <-r.done: // a batch led by another caller answered it
			return r.res, r.err
		case <-ctx.Done():
			// Withdrawn: it never ran. Taken: a batch runs it now; its effect may still be
			// recorded, as with any request whose caller gives up during the append.
			l.withdraw(r)
			return Result{}, ctx.Err()
		case l.held <- struct{}{}:
			func() {
				defer l.unlock()
				if !r.finished() {
					lead(h, l, t)
				}
			}()
		}
	}
}

// lead runs the commands waiting in l's queue as one batch; the caller holds l's lock. A
// panic in a command's decision fails every command of the batch not yet answered (with
// domain.ErrInvariant) before it goes on up, so no caller waits for an answer that never comes.
func lead[S any](h *Handlers, l *streamLock, t target[S]) {
	batch := l.take(maxBatchCommands)
	reqs := make([]*request[S], len(batch))
	for i, w := range batch {
		reqs[i] = w.(*request[S]) //nolint:forcetypeassert,errcheck // a stream's queue holds requests of its state type only: a bug panics
	}
	defer func() {
		if p := recover(); p != nil {
			// The batch's owned state may hold the panicking batch's writes: it is not given
			// back to the cache, which holds none of them.
			for _, r := range reqs {
				if !r.finished() {
					r.finish(Result{}, fmt.Errorf("%w: a command of the batch on %s panicked: %v", domain.ErrInvariant, t.stream, p))
				}
			}
			panic(p)
		}
	}()
	runBatch(h, l, t.stream, t.agg, reqs)
}

// runBatch answers every request of reqs, commands of one stream in arrival order. A command
// whose id repeats one earlier in reqs (a retry racing its original) runs after that one has
// been appended, as it would have without batching, so Meta.Recovering finds its result.
func runBatch[S any](h *Handlers, l *streamLock, stream string, agg aggregate[S], reqs []*request[S]) {
	for len(reqs) > 0 {
		var round []*request[S]
		round, reqs = distinctCommands(reqs)
		live := round[:0]
		for _, r := range round {
			if err := r.ctx.Err(); err != nil {
				r.finish(Result{}, err)
				continue
			}
			if r.m.Recovering {
				if res, found, err := h.findApplied(r.ctx, r.m, stream); err != nil || found {
					r.finish(res, err)
					continue
				}
			}
			live = append(live, r)
		}
		if len(live) == 0 {
			continue
		}
		ctx, cancel := allDone(live)
		b := batch[S]{h: h, stream: stream, agg: agg}
		b.start()
		for len(live) > 0 {
			live = b.run(ctx, live)
		}
		b.finish(h.locks.busy(l))
		cancel()
	}
}

// distinctCommands splits reqs into those whose command id, and idempotency key, is the first
// of its kind and the rest, each in arrival order: requests sharing a key (a retry racing its
// original) are never appended together, so the later one finds the key held and answers as
// the first did.
func distinctCommands[S any](reqs []*request[S]) (first, later []*request[S]) {
	seen := make(map[[16]byte]bool, len(reqs))
	var keys map[[2]string]bool
	for _, r := range reqs {
		var key [2]string
		if r.m.Key != nil {
			key = [2]string{r.m.Key.Scope, r.m.Key.Key}
		}
		if seen[r.m.CommandID] || (r.m.Key != nil && keys[key]) {
			later = append(later, r)
			continue
		}
		seen[r.m.CommandID] = true
		if r.m.Key != nil {
			if keys == nil {
				keys = make(map[[2]string]bool)
			}
			keys[key] = true
		}
		first = append(first, r)
	}
	return first, later
}

// allDone returns a context that ends when every request's context has ended: a caller that
// gives up does not cancel the append the others wait for.
func allDone[S any](reqs []*request[S]) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(context.WithoutCancel(reqs[0].ctx))
	remaining := int64(len(reqs))
	stops := make([]func() bool, len(reqs))
	for i, r := range reqs {
		stops[i] = context.AfterFunc(r.ctx, func() {
			if atomic.AddInt64(&remaining, -1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, stop := range stops {
			stop()
		}
		cancel()
	}
}

// batch runs commands of one stream together.
type batch[S any] struct {
	h        *Handlers
	stream   string
	agg      aggregate[S]
	snap     snapshot
	verified bool // snap was read from the store (or proven current by an append)
	// own, when the aggregate has an owner, applies the batch's events: snap is own.snap.
	own *ownedState[S]
	// broken holds the commands whose decided events did not apply (an invariant error):
	// they are answered with it, and the rest decided again on a fresh apply chain.
	broken map[*request[S]]error
}

// outcome is what one command of a batch decided.
type outcome struct {
	err    error
	before uint64 // the stream's version the command was decided on
	events []domain.Event
	data   []eventstore.EventData
}

// run decides and appends a prefix of reqs (all of them unless their events exceed one
// append), answers those and returns the rest.
func (b *batch[S]) run(ctx context.Context, reqs []*request[S]) []*request[S] {
	for attempt := 1; ; attempt++ {
		outs, state, err := b.decideAll(ctx, reqs)
		if err != nil {
			for _, r := range reqs {
				r.finish(Result{}, err)
			}
			return nil
		}
		n := len(outs)
		var data []eventstore.EventData
		for _, o := range outs {
			data = append(data, o.data...)
		}
		if len(data) == 0 {
			b.answer(reqs[:n], outs, eventstore.AppendResult{}, b.snap.position)
			return reqs[n:]
		}
		start := time.Now()
		res, err := b.h.store.Append(ctx, b.stream, eventstore.Exact(b.snap.version), data...)
		b.h.metrics.observeAppend(b.agg.kind, err, time.Since(start))
		if err == nil && res.Duplicate {
			// Every event was stored already, by another process running these very commands:
			// they are answered as stored (with what they stored: see answerStored). The
			// snapshot may be behind those events, so it is left unverified and the next
			// append finds out.
			b.rollback()
			b.answerStored(ctx, reqs[:n], outs, nil)
			b.verified = false
			return reqs[n:]
		}
		if err == nil {
			before := b.snap.position
			b.appended(snapshot{state: state, version: res.LastVersion, position: res.LastPosition})
			b.answer(reqs[:n], outs, res, before)
			return reqs[n:]
		}
		// Not appended (or not known to be): the state is the one before the batch again.
		b.rollback()
		if errors.Is(err, eventstore.ErrDuplicateEventID) && n > 1 {
			// Some commands of the append were stored already by another process (a retry
			// racing its original there): each command runs alone, as it would have unbatched,
			// so the stored one is answered as stored and the others are appended after it.
			for _, r := range reqs[:n] {
				for alone := []*request[S]{r}; len(alone) > 0; {
					alone = b.run(ctx, alone)
				}
			}
			return reqs[n:]
		}
		var taken *eventstore.KeyTakenError
		if errors.As(err, &taken) {
			// Some commands' idempotency keys are held by other commands (a retry whose first
			// attempt was recorded): they get the error, which names the holder; the others
			// are decided again without them, on the state before the batch.
			rest := reqs[:0:0]
			for _, r := range reqs[:n] {
				if k := r.m.Key; k != nil {
					if _, held := taken.Holder(k.Scope, k.Key); held {
						r.finish(Result{}, err)
						continue
					}
				}
				rest = append(rest, r)
			}
			if len(rest) == n {
				for _, r := range rest { // no command of the batch is named: none can go on
					r.finish(Result{}, err)
				}
				return reqs[n:]
			}
			reqs = append(rest, reqs[n:]...)
			if len(reqs) == 0 {
				return nil
			}
			continue
		}
		if isDuplicateID(err) { // one command, some of its ids stored: another decision of it
			b.answerStored(ctx, reqs[:n], outs, err)
			b.verified = false
			return reqs[n:]
		}
		if !errors.Is(err, eventstore.ErrWrongExpectedVersion) {
			for _, r := range reqs[:n] {
				r.finish(Result{}, err)
			}
			return reqs[n:]
		}
		// Another process appended. A command that stated the version it saw has lost;
		// the others are decided again on the stream as it is now, a bounded number of times.
		// Commands after the prefix were not in this append: they go on untouched.
		rest := reqs[:0:0]
		for _, r := range reqs[:n] {
			switch {
			case r.m.ExpectedVersion != nil:
				r.finish(Result{}, conflictError(b.stream, *r.m.ExpectedVersion, attempt, err))
			case attempt >= b.h.maxAttempts:
				r.finish(Result{}, conflictError(b.stream, b.snap.version, attempt, err))
			default:
				rest = append(rest, r)
			}
		}
		rest = append(rest, reqs[n:]...)
		if len(rest) == 0 {
			return nil
		}
		reqs = rest
		b.h.metrics.retries.WithLabelValues(b.agg.kind.String()).Inc()
		if err := wait.Sleep(ctx, backoff(attempt, b.h.maxAttempts)); err != nil {
			for _, r := range reqs {
				r.finish(Result{}, err)
			}
			return nil
		}
		if err := b.refresh(ctx); err != nil {
			for _, r := range reqs {
				r.finish(Result{}, err)
			}
			return nil
		}
	}
}

// decideAll decides a prefix of reqs in order, each on the state the ones before it leave,
// and returns their outcomes and the state after them. A refusal or a no-op on an unverified
// snapshot is not trusted: the stream is read and the whole prefix decided again. So is a
// prefix in which a command's events did not apply: the apply chain may have written part of
// them into the states before, so the prefix is decided again on a fresh one, without it.
func (b *batch[S]) decideAll(ctx context.Context, reqs []*request[S]) ([]outcome, S, error) {
	for {
		outs, state, again := b.decidePrefix(reqs)
		if again != decideDone {
			b.rollback()
		}
		switch again {
		case decideDone:
			return outs, state, nil
		case readStream:
			if err := b.refresh(ctx); err != nil {
				return nil, state, err
			}
		case applyFailed: // decide again, b.broken now holds the command
		}
	}
}

// decideAgain says why a prefix must be decided again.
type decideAgain int

const (
	decideDone  decideAgain = iota
	readStream              // a decision must be made on a state read from the store
	applyFailed             // a command's events did not apply (see decideAll)
)

// decidePrefix decides what it can of reqs on the snapshot, with one apply chain: the
// snapshot's state is copied once for the whole prefix, not once per command.
func (b *batch[S]) decidePrefix(reqs []*request[S]) (outs []outcome, state S, again decideAgain) {
	state, version := stateOf[S](b.snap), b.snap.version
	apply := b.agg.chain()
	if b.own != nil {
		apply = b.own.owner.Apply
	}
	events := 0
	outs = make([]outcome, 0, len(reqs))
	for _, r := range reqs {
		o := outcome{before: version}
		if err, ok := b.broken[r]; ok {
			o.err = err
			outs = append(outs, o)
			continue
		}
		if want := r.m.ExpectedVersion; want != nil && *want != version {
			if !b.verified {
				return nil, state, readStream
			}
			o.err = &ConflictError{Stream: b.stream, Expected: *want, Actual: version, Attempts: 1}
			outs = append(outs, o)
			continue
		}
		decided, err := decideOn(r, state, b.h.clock(r.m))
		if !b.verified && (err != nil || len(decided) == 0) {
			return nil, state, readStream
		}
		if err == nil && len(decided) > 0 {
			if events+len(decided) > eventstore.MaxEventsPerAppend && len(outs) > 0 {
				break // the rest goes into the next append
			}
			next, data, aerr := b.prepare(apply, r.m, state, version, decided)
			if aerr != nil {
				if b.broken == nil {
					b.broken = make(map[*request[S]]error)
				}
				b.broken[r] = aerr
				return nil, state, applyFailed
			}
			state, o.events, o.data = next, decided, data
			version += uint64(len(decided))
			events += len(decided)
		}
		o.err = err
		outs = append(outs, o)
	}
	return outs, state, decideDone
}

// decideOn runs r's existence check and decision on state.
func decideOn[S any](r *request[S], state S, now time.Time) ([]domain.Event, error) {
	if r.t.require != nil {
		if err := r.t.require(state); err != nil {
			return nil, err
		}
	}
	return r.decide(state, now)
}

// prepare applies a command's decided events to state with the prefix's apply chain and
// encodes them, with ids derived from the command and the version it was decided on.
func (b *batch[S]) prepare(apply applyFunc[S], m Meta, state S, version uint64, events []domain.Event) (S, []eventstore.EventData, error) {
	return prepareEvents(apply, m, b.stream, state, version, events)
}

// prepareEvents applies a command's events, decided on stream at version, to state with apply
// and encodes them, each with the id eventID derives: what a batch and a billing group append.
func prepareEvents[S any](apply applyFunc[S], m Meta, stream string, state S, version uint64, events []domain.Event) (S, []eventstore.EventData, error) {
	md := m.metadata()
	data := make([]eventstore.EventData, len(events))
	next, err := apply(state, events...)
	if err != nil {
		return state, nil, fmt.Errorf("%w: apply the events just decided on %s: %w", domain.ErrInvariant, stream, err)
	}
	for i, e := range events {
		name, v, raw, err := codec.EncodeEvent(e)
		if err != nil {
			return state, nil, fmt.Errorf("%w: %w", domain.ErrInvariant, err)
		}
		data[i] = eventstore.EventData{ID: eventID(m, stream, version, i), Type: name, SchemaVersion: v, Data: raw, Metadata: md}
	}
	if len(data) > 0 {
		data[0].Key = m.Key
	}
	return next, data, nil
}

// answer finishes each request with its own version and position: those of its last event,
// or of the event before it when it changed nothing. Positions are exact on a store whose
// positions in one append are consecutive (PostgreSQL's); otherwise each gets the append's
// last position, where every event of the append is visible together.
func (b *batch[S]) answer(reqs []*request[S], outs []outcome, res eventstore.AppendResult, basePos eventstore.Position) {
	base := outs[0].before
	total := uint64(0)
	for _, o := range outs {
		total += uint64(len(o.events))
	}
	consecutive := total > 0 && uint64(res.LastPosition-res.FirstPosition) == total-1
	for i, r := range reqs {
		o := outs[i]
		if o.err != nil {
			r.finish(Result{}, o.err)
			continue
		}
		version := o.before + uint64(len(o.events))
		pos := basePos
		if version > base {
			pos = res.LastPosition
			if consecutive {
				pos = res.FirstPosition + eventstore.Position(version-base-1)
			}
		}
		r.finish(Result{Stream: b.stream, Version: version, Position: pos, Events: o.events}, nil)
	}
}

// refresh reads the stream after the batch's snapshot. The state read is cached, so it is
// shared: an owner starts again from it (the state it owned may be the one cached).
func (b *batch[S]) refresh(ctx context.Context) error {
	snap, err := refresh(ctx, b.h, b.agg, b.stream, b.snap)
	if err != nil {
		return err
	}
	b.snap, b.verified = snap, true
	if b.own != nil {
		b.own = newOwnedState(b.agg, snap)
	}
	return nil
}

// handOverEvents is how far the cached state of a stream may fall behind its owned state
// (ownedState) before the owner hands it over: at least minHandOverEvents, and an eighth of
// the stream, so the copy this costs the next batch is O(1) per event.
func handOverEvents(version uint64) uint64 { return max(minHandOverEvents, version/8) }

const minHandOverEvents = 1024

// ownedState is a stream's state that its batches write in place (with the aggregate's
// owner), kept from one batch to the next and shared with no one: so a batch costs O(its
// events), where copying the cached state's maps cost O(the stream) per batch. The owner
// copies a map it did not make at its first write, as any chain does, and writes its own in
// place from then on; a batch whose append fails rolls its writes back. Between batches it is
// in the cache (stateCache.giveBack), which hands it to the stream's next leader (take) and to
// a reader (get) only with its ownership. It becomes the cache's shared snapshot, and the
// owner is replaced (the next write copies), also on a read of the stream (refresh) and every
// handOverEvents events, so that readers of the cache (load, billing groups) that come while a
// leader holds it fold a bounded tail.
type ownedState[S any] struct {
	snap  snapshot // the state the last batch appended, or the one the owner started from
	owner stateOwner[S]
	from  uint64 // the version of the shared snapshot the owner started from
}

func (o *ownedState[S]) snapshot() snapshot { return o.snap }

func newOwnedState[S any](agg aggregate[S], from snapshot) *ownedState[S] {
	return &ownedState[S]{snap: from, owner: agg.owner(), from: from.version}
}

// start takes the batch's snapshot: the stream's owned state if the cache holds one no one
// else was handed, else its shared snapshot (with a new owner, if the aggregate has one).
func (b *batch[S]) start() {
	shared, owned, ok := b.h.cache.take(b.stream)
	if !ok {
		shared = snapshot{state: *new(S)}
	}
	b.snap = shared
	if b.agg.owner == nil || b.h.cache.capacity < 1 {
		return
	}
	if o, isS := owned.(*ownedState[S]); isS {
		b.own, b.snap = o, o.snap
		return
	}
	b.own = newOwnedState(b.agg, b.snap)
}

// finish gives the batch's owned state back to the cache for the stream's next leader; the
// batch writes it no more. Every write of the batch is committed or rolled back by then. The
// cache keeps an older shared snapshot beside it only while the stream is busy.
func (b *batch[S]) finish(busy bool) {
	if b.own != nil {
		b.h.cache.giveBack(b.stream, b.own, busy)
		b.own = nil
	}
}

// appended makes snap, the state after an append of the batch, its snapshot: the owner's (the
// cache's shared one too, every handOverEvents events) or the cache's.
func (b *batch[S]) appended(snap snapshot) {
	b.snap, b.verified = snap, true
	if b.own == nil {
		b.h.cache.put(b.stream, snap)
		return
	}
	b.own.owner.Commit()
	b.own.snap = snap
	if snap.version-b.own.from >= handOverEvents(snap.version) {
		b.h.cache.put(b.stream, snap)
		b.own = newOwnedState(b.agg, snap)
	}
}

// rollback undoes the owner's writes since the last append: the snapshot's state is as it was.
func (b *batch[S]) rollback() {
	if b.own != nil {
		b.own.owner.Rollback()
	}
}
