package projections

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/dotmac/ledger/eventstore"
)

// page is one read of the feed, decoded.
type page struct {
	evs []Event
	err error
}

// replayJob folds the events after from, up to and including to, into one or more builds:
// each page is read and decoded once, and each batch applied to every target.
type replayJob struct {
	targets  []replayTarget
	from, to eventstore.Position
	// progress, if set, is told after each batch where the builds are and how many events
	// the batch held.
	progress func(pos eventstore.Position, events int)
}

// replayTarget is one build a replay fills.
type replayTarget struct {
	e     *entry
	build string
	// commit applies one batch and advances the build's checkpoint, in one transaction.
	commit func(ctx context.Context, evs []Event) error
}

func (job *replayJob) decodeSet() decodeSet {
	d := make(decodeSet, len(job.targets))
	for i, t := range job.targets {
		d[i] = t.e
	}
	return d
}

func (job *replayJob) names() string {
	names := make([]string, len(job.targets))
	for i, t := range job.targets {
		names[i] = t.e.name
	}
	return strings.Join(names, ",")
}

// replay runs job: readers fetch and decode pages ahead (in parallel on a dense feed) while
// this goroutine applies them in order, ReplayBatchEvents per transaction and target (the
// targets' transactions run side by side). It returns the position every target reached,
// and the first error (an *ApplyError names the event that failed).
func (r *Runtime) replay(ctx context.Context, job replayJob) (eventstore.Position, error) {
	ctx, cancel := context.WithCancel(ctx)
	pages := r.pages(ctx, job.decodeSet(), job.from, job.to)
	defer func() {
		cancel()
		for range pages {
			// drain, so the readers end
		}
	}()
	reached := job.from
	var acc []Event // pages gathered until a batch is full (nil while empty)
	commit := func(evs []Event) error {
		if len(evs) == 0 {
			return nil
		}
		if err := commitAll(ctx, job.targets, evs); err != nil {
			return err
		}
		reached = evs[len(evs)-1].Position
		if job.progress != nil {
			job.progress(reached, len(evs))
		}
		return nil
	}
	batch := r.opts.ReplayBatchEvents
	for p := range pages {
		if p.err != nil {
			return reached, p.err
		}
		evs := p.evs
		if len(acc) > 0 {
			acc = append(acc, evs...)
			evs, acc = acc, nil
		}
		for len(evs) >= batch { // a full batch straight from the page: no copy
			if err := commit(evs[:batch]); err != nil {
				return reached, err
			}
			evs = evs[batch:]
		}
		if len(evs) > 0 {
			acc = append(make([]Event, 0, batch+len(evs)), evs...)
		}
	}
	if err := ctx.Err(); err != nil {
		return reached, err
	}
	return reached, commit(acc)
}

// commitAll commits evs to every target, the targets side by side.
func commitAll(ctx context.Context, targets []replayTarget, evs []Event) error {
	if len(targets) == 1 {
		return targets[0].commit(ctx, evs)
	}
	g, ctx := errgroup.WithContext(ctx)
	for _, t := range targets {
		g.Go(func() error { return t.commit(ctx, evs) })
	}
	return g.Wait()
}

// pages streams the decoded events after from up to to, in order, until done or ctx ends.
//
// Every channel is unbuffered: a reader holds the one page it read until it is taken, so a
// replay holds at most a page per reader (ReplayReaders), the one being handed on, and the
// batch being applied. A decoded page of 10,000 events is about 12 MB: the buffered channels
// this had before held up to four pages more, most of the 93 MB the replay pages took at the
// peak of a start over a million events (whose catch-up this is).
func (r *Runtime) pages(ctx context.Context, d decodeSet, from, to eventstore.Position) <-chan page {
	out := make(chan page)
	if !r.feed.dense() {
		go r.readSequential(ctx, d, from, to, out)
		return out
	}
	readers := r.opts.ReplayReaders
	size := eventstore.Position(r.opts.ReplayPageEvents) //nolint:gosec // positive option
	chans := make([]chan page, readers)
	for w := range chans {
		chans[w] = make(chan page)
		go r.readRanges(ctx, d, from+eventstore.Position(w)*size, to, size*eventstore.Position(readers), chans[w]) //nolint:gosec // small
	}
	go func() {
		defer close(out)
		for k := 0; ; k++ {
			p, ok := <-chans[k%readers]
			if !ok {
				return
			}
			if !sendPage(ctx, out, p) {
				return
			}
		}
	}()
	return out
}

// readRanges reads the ranges (lo, lo+size], (lo+stride, lo+stride+size], ... below to.
func (r *Runtime) readRanges(ctx context.Context, d decodeSet, lo, to, stride eventstore.Position, out chan<- page) {
	defer close(out)
	size := eventstore.Position(r.opts.ReplayPageEvents) //nolint:gosec // positive option
	for ; lo < to; lo += stride {
		evs, err := r.feed.read(ctx, lo, min(lo+size, to), r.opts.ReplayPageEvents)
		if err == nil && len(evs) != int(min(lo+size, to)-lo) {
			err = fmt.Errorf("invariant: es_events has %d events in (%d, %d]: positions are not dense", len(evs), lo, min(lo+size, to))
		}
		p := page{err: err}
		if err == nil {
			r.decodeInPlace(d, evs)
			p.evs = evs
		}
		if !sendPage(ctx, out, p) || err != nil {
			return
		}
	}
}

// readSequential pages through a feed whose positions have holes.
func (r *Runtime) readSequential(ctx context.Context, d decodeSet, from, to eventstore.Position, out chan<- page) {
	defer close(out)
	for from < to {
		evs, err := r.feed.read(ctx, from, to, r.opts.ReplayPageEvents)
		p := page{err: err}
		if err == nil {
			r.decodeInPlace(d, evs)
			p.evs = evs
		}
		if !sendPage(ctx, out, p) || err != nil || len(evs) == 0 {
			return
		}
		from = evs[len(evs)-1].Position
	}
}

func sendPage(ctx context.Context, out chan<- page, p page) bool {
	select {
	case out <- p:
		return true
	case <-ctx.Done():
		return false
	}
}

// commitBuild returns a replay commit for a build nobody else writes (a shadow build, an
// as-of copy): no lock, synchronous_commit off (beginBuildTx). As on the live build, an event
// that does not decode or that Apply cannot fold stalls its tenant in this build (the batch is
// split to find it) and the other tenants' events are applied.
//
// With load (a Loader's, for the replay that fills the build from position 0) the batches go
// through load, which cannot be split: an event that does not decode still stalls its tenant,
// but a Load that fails fails the batch, its error naming the event (the run then fills the
// build again through Apply, see buildRun.fill).
func (r *Runtime) commitBuild(e *entry, build string, load Load, fold func([]Event) []Event) func(context.Context, []Event) error {
	return func(ctx context.Context, evs []Event) error {
		tx, err := r.beginBuildTx(ctx)
		if err != nil {
			return err
		}
		defer func() { r.rollbackTx(ctx, tx) }()
		apply := applyFunc(e.p.Apply)
		if load != nil {
			apply = load.Apply
		}
		if fold != nil {
			apply = foldOnly(apply, fold)
		}
		if err := r.applyWith(ctx, tx, e, apply, wholeSpan(build), evs, &evs[len(evs)-1], false, load == nil); err != nil {
			return err
		}
		return r.commitTx(ctx, tx)
	}
}

// foldOnly applies the events fold keeps (an as-of copy's); none: no call. The checkpoint
// still advances over every event.
func foldOnly(apply applyFunc, fold func([]Event) []Event) applyFunc {
	return func(ctx context.Context, tx pgx.Tx, evs []Event) error {
		if evs = fold(evs); len(evs) == 0 {
			return nil
		}
		return apply(ctx, tx, evs)
	}
}

// beginBuildTx begins a transaction on a build nobody else writes: synchronous_commit off,
// since a crash only loses the rebuild, never consistency (the checkpoint and the rows are
// lost together).
func (r *Runtime) beginBuildTx(ctx context.Context) (pgx.Tx, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
		r.rollbackTx(ctx, tx)
		return nil, err
	}
	return tx, nil
}

// flushLoad writes what load holds into build, in one transaction.
func (r *Runtime) flushLoad(ctx context.Context, e *entry, build string, load Load, at eventstore.Position) error {
	tx, err := r.beginBuildTx(ctx)
	if err != nil {
		return err
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	if err := setSearchPath(ctx, tx, ident(build)); err != nil {
		return err
	}
	if err := guardApply(e.name, at, at, func() error { return load.Flush(ctx, tx) }); err != nil {
		return err
	}
	return r.commitTx(ctx, tx)
}

// commitLive returns a replay commit for e's live build (a catch-up): each transaction takes
// the projection's lock (every partition's appliers wait), checks that build is still live and
// where each partition's checkpoint is, and applies only the events after their partition's,
// announcing the new checkpoints.
func (r *Runtime) commitLive(e *entry, build string) func(context.Context, []Event) error {
	return func(ctx context.Context, evs []Event) error {
		tx, lb, found, err := r.beginLocked(ctx, e)
		if err != nil {
			return err
		}
		defer func() { r.rollbackTx(ctx, tx) }()
		if err := r.checkLive(e, lb, found, 0, livePart{}, 0); err != nil {
			return err
		}
		if lb.build != build {
			return fmt.Errorf("%w: %s was swapped to %s", errHalt, e.name, lb.build)
		}
		last := &evs[len(evs)-1]
		parts := lb.behindAt(last.Position)
		if len(parts) == 0 {
			return nil
		}
		if err := r.applyTo(ctx, tx, e, span{build: build, n: lb.partitions, parts: parts}, lb.unapplied(evs), last, true, true); err != nil {
			return err
		}
		return r.commitTx(ctx, tx)
	}
}

// queueCatchUp queues e (marked busy) for a catch-up replay and starts the worker if idle.
func (r *Runtime) queueCatchUp(e *entry) {
	r.mu.Lock()
	r.catchQueue = append(r.catchQueue, e)
	idle := !r.catching
	r.catching = true
	gate := r.catchGate
	r.mu.Unlock()
	if idle {
		r.goBackground(func(ctx context.Context) { r.catchUps(ctx, gate) })
	}
}

// catchUps runs the queued catch-ups one replay at a time, so that a start over a long
// history holds one replay's pages in memory, not one per projection; projections at the
// same checkpoint (every new build starts at 0) share one replay, each event decoded once.
// Then it activates their live handlers.
func (r *Runtime) catchUps(ctx context.Context, gate <-chan struct{}) {
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	for {
		r.mu.Lock()
		queued := r.catchQueue
		r.catchQueue = nil
		if len(queued) == 0 || ctx.Err() != nil {
			r.catching = false
			r.mu.Unlock()
			return
		}
		r.mu.Unlock()
		r.catchUp(ctx, queued)
		for _, e := range queued {
			r.release(e.name)
			r.activate(ctx, e)
		}
	}
}

// catchUp replays the backlog of the live builds of entries until each is within
// CatchUpEvents of the head, with the projections in state catching_up. An event that cannot
// be applied stalls its tenant, as on the live path; on any other failure it leaves the rest to
// the live projector, which retries.
func (r *Runtime) catchUp(ctx context.Context, entries []*entry) {
	for _, e := range entries {
		if err := r.setState(ctx, e.name, StateCatchingUp, StateRunning); err != nil {
			return
		}
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		for _, e := range entries {
			_ = r.setState(ctx, e.name, StateRunning, StateCatchingUp)
		}
	}()
	for ctx.Err() == nil {
		groups, head, err := r.behind(ctx, entries)
		if err != nil || len(groups) == 0 {
			return
		}
		for _, g := range groups {
			start := time.Now()
			reached, err := r.replay(ctx, replayJob{targets: g.targets, from: g.from, to: head,
				progress: func(_ eventstore.Position, n int) {
					for _, t := range g.targets {
						r.metrics.applied(t.e.name, "replay", n, 0)
					}
				}})
			r.log.Info().Str("projections", (&replayJob{targets: g.targets}).names()).Uint64("from", uint64(g.from)).
				Uint64("to", uint64(reached)).Dur("took", time.Since(start)).AnErr("error", err).Msg("projections: caught up the live builds")
			if err != nil {
				return
			}
		}
	}
}

// catchUpGroup is the live builds one catch-up replay fills, all at checkpoint from.
type catchUpGroup struct {
	from    eventstore.Position
	targets []replayTarget
}

// behind groups the entries whose live builds are more than CatchUpEvents behind the head by
// their checkpoint, lowest first.
func (r *Runtime) behind(ctx context.Context, entries []*entry) ([]catchUpGroup, eventstore.Position, error) {
	head, err := r.store.Head(ctx)
	if err != nil {
		return nil, 0, err
	}
	byFrom := map[eventstore.Position]*catchUpGroup{}
	var groups []*catchUpGroup
	for _, e := range entries {
		st, found, err := r.liveState(ctx, e.name, nil)
		if err != nil {
			return nil, 0, err
		}
		if !found || head <= st.checkpoint+eventstore.Position(r.opts.CatchUpEvents) { //nolint:gosec // positive option
			continue
		}
		g := byFrom[st.checkpoint]
		if g == nil {
			g = &catchUpGroup{from: st.checkpoint}
			byFrom[st.checkpoint] = g
			groups = append(groups, g)
		}
		g.targets = append(g.targets, replayTarget{e: e, build: st.build, commit: r.commitLive(e, st.build)})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].from < groups[j].from })
	out := make([]catchUpGroup, len(groups))
	for i, g := range groups {
		out[i] = *g
	}
	return out, head, nil
}
