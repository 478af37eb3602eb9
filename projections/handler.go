package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/dotmac/ledger/eventstore"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

// liveHandler applies one partition of a live build: its events of each batch.
type liveHandler struct {
	r    *Runtime
	e    *entry
	h    *message.Handler
	part livePart

	stopping bool // stop was asked (balance gave the partition up); guarded by the projector's mu

	failingAt eventstore.Position // first position of the batch that keeps failing
	failures  int

	// skipped is the last position of a batch acked without a transaction (none of its events
	// in the partition, more to come); committedAt is when the last transaction committed.
	skipped     eventstore.Position
	committedAt time.Time

	// events is the array the batches are decoded into, one after the other (a new array per
	// batch was 4 % of a busy command server's allocations). Nothing keeps a batch's events
	// once handle returns; they are cleared then, so as not to keep their payloads alive.
	events []Event
}

// idleAdvanceEvery bounds how long a partition's checkpoint may stay behind the batches it
// acked without a transaction (see liveHandler.skip).
const idleAdvanceEvery = 200 * time.Millisecond

func (lh *liveHandler) stopped() bool {
	select {
	case <-lh.h.Stopped():
		return true
	default:
		return false
	}
}

// handle applies one batch message. It returns nil (ack) once the batch is applied, or when
// the projection must stop (it then stops this handler); an error (nack, retried) otherwise.
// After MaxRetries+1 failed attempts of the same batch it applies the batch isolating the
// failing events: each stalls its tenant, and every other tenant's events are committed.
func (lh *liveHandler) handle(msg *message.Message) error {
	envs, err := esw.Envelopes(msg)
	if err != nil {
		return fmt.Errorf("invariant: the live projector of %s got a message that is not a batch: %w", lh.e.name, err)
	}
	if len(envs) == 0 {
		return nil
	}
	ctx := msg.Context()
	batch := lh.r.partBatch(lh.e, lh.part, envs, lh.events)
	lh.events = batch.mine[:0]
	defer clear(batch.mine)
	idle := batch.idle(lh.e)
	if lh.skip(idle, batch, esw.MoreFollows(msg)) {
		return nil
	}
	start, began := time.Now(), lh.r.opts.Now()
	if idle {
		// One round trip when it can; the full path below when it cannot (advanceIdle).
		if moved, err := lh.r.advanceIdle(ctx, lh.e, lh.part, batch, lh.skipped); err == nil && moved {
			lh.failures, lh.committedAt = 0, time.Now()
			lh.r.metrics.applied(lh.e.name, "live", 0, time.Since(start))
			lh.pace(ctx, began, len(envs), batch.last.Position)
			return nil
		}
	}
	res, err := lh.r.applyLive(ctx, lh.e, lh.part, batch, lh.skipped, false)
	var ae *ApplyError
	if errors.As(err, &ae) && ctx.Err() == nil && !transient(err) && lh.keepsFailing(envs[0].Position) {
		res, err = lh.r.applyLive(ctx, lh.e, lh.part, batch, lh.skipped, true)
	}
	switch {
	case err == nil:
		lh.failures, lh.committedAt = 0, time.Now()
		lh.r.metrics.applied(lh.e.name, "live", res.folded, time.Since(start)-res.waited)
		if res.oldest != nil {
			// The oldest event of the partition applied waited longest.
			lh.r.metrics.delay(lh.e.name, lh.r.opts.Now().Sub(res.oldest.RecordedAt()))
		}
		lh.pace(ctx, began, len(envs), batch.last.Position)
		return nil
	case errors.Is(err, errHalt):
		lh.halt(err)
		return nil
	}
	return err
}

// skip reports whether the batch b may be acked without a transaction: it is idle (none of its
// events is in the partition and handled by the projection, see advanceIdle), the subscriber
// read more events with it that it delivers next (more: a backlog), and the partition's
// checkpoint moved less than idleAdvanceEvery ago. The next transaction moves the checkpoint
// over the skipped batches too. The last batch of what the subscriber read always commits, so
// a waiter never waits for a partition that has nothing to apply. (A full batch was taken for
// a sign of more to come; a burst whose last batch was exactly full left the checkpoint
// behind until the next event was appended, however long that took.)
func (lh *liveHandler) skip(idle bool, b liveBatch, more bool) bool {
	if !idle || !more || time.Since(lh.committedAt) >= idleAdvanceEvery {
		return false
	}
	lh.skipped = b.last.Position
	return true
}

// keepsFailing counts a failed attempt at the batch starting at first and reports whether
// the retries are used up.
func (lh *liveHandler) keepsFailing(first eventstore.Position) bool {
	if first != lh.failingAt {
		lh.failingAt, lh.failures = first, 0
	}
	lh.failures++
	if lh.failures <= lh.r.opts.MaxRetries {
		return false
	}
	lh.failures = 0
	return true
}

func (lh *liveHandler) halt(why error) {
	lh.r.log.Info().Str("projection", lh.e.name).Str("reason", why.Error()).Msg("projections: live projector stopped")
	lh.h.Stop()
}

// livePart is the partition of a live build a live handler applies.
type livePart struct {
	build string
	n, k  int // partition k of n
}

// liveResult is what applyLive did: how many events of its partition it folded, the oldest
// of them (nil: none), and how long it waited for a live slot.
type liveResult struct {
	folded int
	oldest *Event
	waited time.Duration
}

// applyLive applies partition p's events of a batch to e's live build in one transaction
// under p's lock (and e's, shared), skipping the events at or below p's checkpoint (a
// redelivery) and those of tenants stalled in the build, and moves p's checkpoint to the end
// of the batch: it accounts for the other partitions' events it skipped. With isolate, an
// event that cannot be applied stalls its tenant (see foldTenants); without, it fails the
// batch. A live build that is no longer p's (swapped) halts the handler.
// skipped is the last position the handler acked without a transaction (see liveHandler.skip).
func (r *Runtime) applyLive(ctx context.Context, e *entry, p livePart, b liveBatch, skipped eventstore.Position, isolate bool) (liveResult, error) {
	tx, lb, found, held, waited, err := r.beginPartLocked(ctx, e, p.k, p.build, b.first)
	if waited > 0 {
		r.metrics.slotWait(e.name, waited)
	}
	if err != nil {
		return liveResult{waited: waited}, err
	}
	if held {
		defer r.slots.release() // after the rollback below: the transaction has ended
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	if err := r.checkLive(e, lb, found, b.first, p, skipped); err != nil {
		return liveResult{waited: waited}, err
	}
	if b.last.Position <= lb.cps[p.k] {
		return liveResult{waited: waited}, nil
	}
	fold := after(b.mine, lb.cps[p.k])
	// checkLive made sure lb is p's build: its search_path and stalls are the span's.
	sp := span{build: p.build, n: p.n, parts: []int{p.k},
		known: spanKnown{searchPath: true, stallsRead: lb.stallsRead, stalls: lb.stalls}}
	if err := r.applyTo(ctx, tx, e, sp, fold, &b.last, true, isolate); err != nil {
		return liveResult{waited: waited}, err
	}
	if err := r.commitTx(ctx, tx); err != nil {
		return liveResult{waited: waited}, fmt.Errorf("projection %s: commit: %w", e.name, err)
	}
	res := liveResult{folded: len(fold), waited: waited}
	if len(fold) > 0 {
		res.oldest = &fold[0]
	}
	return res, nil
}

// checkLive refuses to apply to a live build this process must leave alone. first, when not
// zero, is the first position of a live handler's batch (of partition p): on a dense feed it
// must follow the partition's checkpoint, and the live build must still be p's.
func (r *Runtime) checkLive(e *entry, lb liveBuild, found bool, first eventstore.Position, p livePart, skipped eventstore.Position) error {
	switch {
	case !found:
		return fmt.Errorf("%w: %s has no live build", errHalt, e.name)
	case lb.state == StateStalled:
		return fmt.Errorf("%w: %s is stalled", errHalt, e.name)
	case lb.version != e.p.Version():
		return fmt.Errorf("%w: the live build of %s is version %d, this binary's is %d", errHalt, e.name, lb.version, e.p.Version())
	case first == 0:
	case lb.build != p.build || lb.partitions != p.n:
		return fmt.Errorf("%w: %s was swapped to %s", errHalt, e.name, lb.build)
	case r.feed.dense() && first > max(lb.cps[p.k], skipped)+1:
		r.log.Error().Str("projection", e.name).Int("partition", p.k).Uint64("first", uint64(first)).Uint64("checkpoint", uint64(lb.cps[p.k])).
			Msg("invariant: the live feed skipped past the checkpoint; resubscribing from the checkpoint")
		return fmt.Errorf("%w: %s: the feed is at %d, past the checkpoint %d", errHalt, e.name, first, lb.cps[p.k])
	}
	return nil
}

// activate runs this process's share of e's live partitions (balance): a catch-up replay of
// every partition first when the live build is far behind and none runs here.
func (r *Runtime) activate(ctx context.Context, e *entry) {
	if !r.claim(e.name, "activating") {
		return
	}
	handedOver := false
	defer func() {
		if !handedOver {
			r.release(e.name)
		}
	}()
	st, found, err := r.liveState(ctx, e.name, nil)
	if err != nil || !found || st.state == StateStalled || st.version != e.p.Version() {
		return
	}
	head, err := r.store.Head(ctx)
	if err != nil {
		return
	}
	if !r.live.running(e.name) && head > st.checkpoint+eventstore.Position(r.opts.CatchUpEvents) { //nolint:gosec // positive option
		handedOver = true
		r.setBusy(e.name, "catching up")
		r.queueCatchUp(e)
		return
	}
	r.balance(ctx, e, st.build, st.partitions)
}

// claim marks name busy in this process unless it is busy.
func (r *Runtime) claim(name, what string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil || r.busy[name] != "" || r.life.Err() != nil {
		return false
	}
	r.busy[name] = what
	return true
}

func (r *Runtime) setBusy(name, what string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy[name] = what
}

func (r *Runtime) release(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.busy, name)
}
