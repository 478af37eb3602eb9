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

// liveHandler applies one projection's batches to its live build.
type liveHandler struct {
	r *Runtime
	e *entry
	h *message.Handler

	failingAt eventstore.Position // first position of the batch that keeps failing
	failures  int
}

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
	envs, err := esw.DecodeBatch(msg.Payload)
	if err != nil {
		return fmt.Errorf("invariant: the live projector of %s got a message that is not a batch: %w", lh.e.name, err)
	}
	if len(envs) == 0 {
		return nil
	}
	ctx := msg.Context()
	evs := lh.r.decode(decodeSet{lh.e}, envs)
	start := time.Now()
	n, err := lh.r.applyLive(ctx, lh.e, evs, false)
	var ae *ApplyError
	if errors.As(err, &ae) && ctx.Err() == nil && !transient(err) && lh.keepsFailing(envs[0].Position) {
		n, err = lh.r.applyLive(ctx, lh.e, evs, true)
	}
	switch {
	case err == nil:
		lh.failures = 0
		lh.r.metrics.applied(lh.e.name, "live", n, time.Since(start))
		if n > 0 {
			// The oldest event applied (the applied ones are the batch's tail) waited longest.
			lh.r.metrics.delay(lh.e.name, lh.r.opts.Now().Sub(envs[len(envs)-n].RecordedAt()))
		}
		return nil
	case errors.Is(err, errHalt):
		lh.halt(err)
		return nil
	}
	return err
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

// applyLive applies a batch to e's live build in one transaction under e's lock, skipping the
// events at or below its checkpoint (a redelivery) and those of tenants stalled in the build.
// With isolate, an event that cannot be applied stalls its tenant (see foldTenants); without,
// it fails the batch. It returns how many events the checkpoint moved over.
func (r *Runtime) applyLive(ctx context.Context, e *entry, evs []Event, isolate bool) (int, error) {
	tx, lb, found, err := r.beginLocked(ctx, e)
	if err != nil {
		return 0, err
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	if err := r.checkLive(e, lb, found, evs[0].Position); err != nil {
		return 0, err
	}
	if evs = after(evs, lb.checkpoint); len(evs) == 0 {
		return 0, nil
	}
	if err := r.applyTo(ctx, tx, e, lb.build, evs, true, isolate); err != nil {
		return 0, err
	}
	if err := r.commitTx(ctx, tx); err != nil {
		return 0, fmt.Errorf("projection %s: commit: %w", e.name, err)
	}
	return len(evs), nil
}

// checkLive refuses to apply to a live build this process must leave alone. first, when not
// zero, is the first position of the batch: on a dense feed it must follow the checkpoint.
func (r *Runtime) checkLive(e *entry, lb liveBuild, found bool, first eventstore.Position) error {
	switch {
	case !found:
		return fmt.Errorf("%w: %s has no live build", errHalt, e.name)
	case lb.state == StateStalled:
		return fmt.Errorf("%w: %s is stalled", errHalt, e.name)
	case lb.version != e.p.Version():
		return fmt.Errorf("%w: the live build of %s is version %d, this binary's is %d", errHalt, e.name, lb.version, e.p.Version())
	case first > 0 && r.feed.dense() && first > lb.checkpoint+1:
		r.log.Error().Str("projection", e.name).Uint64("first", uint64(first)).Uint64("checkpoint", uint64(lb.checkpoint)).
			Msg("invariant: the live feed skipped past the checkpoint; resubscribing from the checkpoint")
		return fmt.Errorf("%w: %s: the feed is at %d, past the checkpoint %d", errHalt, e.name, first, lb.checkpoint)
	}
	return nil
}

// activate starts e's live projection in this process if it is not running: a catch-up
// replay first when the live build is far behind, then the live handler.
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
	if head > st.checkpoint+eventstore.Position(r.opts.CatchUpEvents) { //nolint:gosec // positive option
		handedOver = true
		r.setBusy(e.name, "catching up")
		r.queueCatchUp(e)
		return
	}
	if err := r.live.ensure(e, st.build); err != nil && ctx.Err() == nil {
		r.log.Warn().Err(err).Str("projection", e.name).Msg("projections: could not start the live projector")
	}
}

// claim marks name busy in this process unless it is busy or its handler runs.
func (r *Runtime) claim(name, what string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.live == nil || r.busy[name] != "" || r.life.Err() != nil || r.live.running(name) {
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
