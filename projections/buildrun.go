package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"golang.org/x/sync/errgroup"

	"github.com/dotmac/ledger/eventstore"
)

// Rebuild builds projection name from position 0 into a new build and waits for it. Without
// Into, the new build is a shadow: it replays history reading es_events directly in large
// batches, catches up with the head, then under the projection's lock applies the last events
// and swaps the views and the registry to it in one transaction; the old build serves
// queries until then and is dropped after. With Into (and optionally AsOf) it fills a copy in
// that schema up to the target and leaves the live build alone.
//
// Errors: ErrUnknownProjection, ErrRebuildInProgress (a shadow rebuild of the projection, or
// a copy into that schema, runs somewhere), ErrInvalidRebuild, an *ApplyError naming the event
// the projection cannot apply (the partial build is dropped), or ctx's error.
func (r *Runtime) Rebuild(ctx context.Context, name string, opts RebuildOptions) (Progress, error) {
	ps, err := r.RebuildMany(ctx, []string{name}, opts)
	if len(ps) == 0 {
		return Progress{}, err
	}
	return ps[0], err
}

// RebuildMany rebuilds several projections in one replay: each event is read and decoded
// once and applied to every shadow build (the builds' transactions side by side), then each
// is swapped in on its own, as Rebuild does. Decoding is most of a replay's cost, so this is
// how to rebuild several projections at once. A copy (Into) takes one projection. On error
// the builds not yet swapped in are dropped.
func (r *Runtime) RebuildMany(ctx context.Context, names []string, opts RebuildOptions) ([]Progress, error) {
	run, err := r.beginRebuild(ctx, names, opts)
	if err != nil {
		return nil, err
	}
	return run.execute(ctx)
}

// StartRebuild starts Rebuild in the background (until Stop) and returns once the build
// exists, with its first progress.
func (r *Runtime) StartRebuild(ctx context.Context, name string, opts RebuildOptions) (Progress, error) {
	run, err := r.beginRebuild(ctx, []string{name}, opts)
	if err != nil {
		return Progress{}, err
	}
	r.goBackground(func(ctx context.Context) { _, _ = run.execute(ctx) })
	return run.progress(run.parts[0]), nil
}

// rebuildForVersion starts, in the background, the rebuild that replaces live builds of
// another version than this binary's: one replay for all of them, or, when another process
// already rebuilds some, one each for the others.
func (r *Runtime) rebuildForVersion(es []*entry) {
	names := make([]string, len(es))
	for i, e := range es {
		names[i] = e.name
	}
	r.log.Info().Strs("projections", names).
		Msg("projections: live builds of another version: rebuilding; the old builds serve queries meanwhile")
	if r.startRebuildSet(names) || len(names) == 1 {
		return
	}
	for _, n := range names {
		r.startRebuildSet([]string{n})
	}
}

// startRebuildSet starts a background rebuild of names; false if one of them is being rebuilt
// elsewhere.
func (r *Runtime) startRebuildSet(names []string) bool {
	run, err := r.beginRebuild(r.life, names, RebuildOptions{})
	if errors.Is(err, ErrRebuildInProgress) {
		return false
	}
	if err != nil {
		r.log.Error().Err(err).Strs("projections", names).Msg("projections: could not start the rebuild for the new version")
		return true
	}
	r.goBackground(func(ctx context.Context) { _, _ = run.execute(ctx) })
	return true
}

// buildRun is a rebuild (or copy) running in this process: one replay filling one build per
// projection.
type buildRun struct {
	r     *Runtime
	opts  RebuildOptions
	parts []*buildPart
	copy  bool
	start time.Time

	// folded counts the events a copy's projection folds (Apply is given).
	folded atomic.Int64

	mu              sync.Mutex
	phase           string
	pos, target     eventstore.Position
	head            eventstore.Position
	eventsPerSecond float64
	failure         string
	stalls          map[string]int // build -> tenants stalled in it, once filled
}

// buildPart is one projection's build in a run.
type buildPart struct {
	e       *entry
	g       *guard
	build   string
	swapped bool
}

func (r *Runtime) beginRebuild(ctx context.Context, names []string, opts RebuildOptions) (*buildRun, error) {
	es, err := r.rebuildEntries(names, opts)
	if err != nil {
		return nil, err
	}
	target, head, err := r.rebuildTarget(ctx, opts)
	if err != nil {
		return nil, err
	}
	run := &buildRun{r: r, opts: opts, copy: opts.Into != "", start: time.Now(), phase: PhaseReplaying, target: target, head: head}
	for _, e := range es {
		if err := run.addPart(ctx, e); err != nil {
			run.abandon(true)
			return nil, err
		}
	}
	r.mu.Lock()
	for _, p := range run.parts {
		r.builds[p.build] = run
	}
	r.mu.Unlock()
	r.log.Info().Strs("projections", names).Str("builds", run.builds()).Bool("copy", run.copy).
		Uint64("target", uint64(target)).Msg("projections: rebuild started")
	return run, nil
}

func (r *Runtime) rebuildEntries(names []string, opts RebuildOptions) ([]*entry, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("%w: name a projection", ErrInvalidRebuild)
	}
	if opts.Into != "" && len(names) > 1 {
		return nil, fmt.Errorf("%w: a copy (--into) takes one projection", ErrInvalidRebuild)
	}
	if err := r.checkRebuild(opts); err != nil {
		return nil, err
	}
	es := make([]*entry, 0, len(names))
	for i, n := range names {
		e, err := r.entry(n)
		if err != nil {
			return nil, err
		}
		if slices.Contains(names[:i], n) {
			return nil, fmt.Errorf("%w: %s named twice", ErrInvalidRebuild, n)
		}
		if err := checkBusinessDated(e, opts); err != nil {
			return nil, err
		}
		es = append(es, e)
	}
	return es, nil
}

// addPart takes e's lock (a shadow rebuild's, or the copy's schema's) and creates its build.
func (run *buildRun) addPart(ctx context.Context, e *entry) error {
	r := run.r
	key := e.rebuildKey
	if run.copy {
		key = lockKey(r.app, "build", run.opts.Into)
	}
	g, err := r.acquireGuard(ctx, key)
	if err != nil {
		return err
	}
	p := &buildPart{e: e, g: g}
	run.parts = append(run.parts, p)
	spec := buildSpec{purpose: purposeShadow}
	if !run.copy {
		if spec.partitions, err = r.partitionsFor(ctx, e); err != nil {
			return err
		}
	}
	if run.copy {
		spec = buildSpec{purpose: purposeAsOf, schema: run.opts.Into, target: &run.target}
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	if run.copy {
		if err := r.reserveCopy(ctx, tx); err != nil {
			return err
		}
	}
	build, err := r.createBuild(ctx, tx, e, spec)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P06" {
		return fmt.Errorf("%w: schema %q already exists; choose a new one", ErrInvalidRebuild, run.opts.Into)
	}
	if err != nil {
		return err
	}
	if run.copy {
		if err := r.catalogCopy(ctx, tx, e, build, run.asOf(), run.target, run.opts.By); err != nil {
			return err
		}
	}
	if err := r.commitTx(ctx, tx); err != nil {
		return err
	}
	p.build = build
	if run.copy {
		return nil
	}
	g.tryLock(ctx, lockKey(r.app, "build", build))
	return r.setState(ctx, e.name, StateRebuilding, StateRunning, StateCatchingUp)
}

func (run *buildRun) builds() string {
	bs := make([]string, len(run.parts))
	for i, p := range run.parts {
		bs[i] = p.build
	}
	return strings.Join(bs, ",")
}

func (run *buildRun) execute(ctx context.Context) ([]Progress, error) {
	err := run.fill(ctx)
	if err != nil {
		run.fail(err)
	} else {
		run.countStalls(ctx)
	}
	out := make([]Progress, len(run.parts))
	for i, p := range run.parts {
		out[i] = run.progress(p)
	}
	run.abandon(false)
	return out, err
}

func (run *buildRun) fill(ctx context.Context) error {
	r := run.r
	job := replayJob{to: run.target, progress: run.advance}
	folded := run.countFolded()
	if run.opts.AsOf != nil && !run.opts.AsOf.Business.IsZero() {
		ctx = withBusinessCutoff(ctx, run.opts.AsOf.Business)
	}
	run.setPhase(PhaseReplaying, 0)
	reached, err := run.replayFromZero(ctx, &job, folded, true)
	var ae *ApplyError
	if errors.As(err, &ae) && ctx.Err() == nil && !transient(err) {
		// A Load cannot split a batch to stall only the failing event's tenant: fill the builds
		// again through Apply, which can.
		r.log.Warn().Err(err).Str("builds", run.builds()).
			Msg("projections: a Load could not fold a batch; refilling through Apply, which stalls only the failing event's tenant")
		for _, p := range run.parts {
			if err := r.resetBuild(ctx, p.e, p.build); err != nil {
				return err
			}
		}
		run.folded.Store(0)
		reached, err = run.replayFromZero(ctx, &job, folded, false)
	}
	if err != nil {
		return err
	}
	run.setPhase(PhaseIndexing, 0)
	if err := r.indexBuilds(ctx, run.parts); err != nil {
		return err
	}
	if run.copy && run.folded.Load() == 0 {
		return fmt.Errorf("%w: %s as of %s (schema %s dropped)", ErrEmptyCopy, run.parts[0].e.name, run.asOf(), run.opts.Into)
	}
	if run.copy {
		if err := r.analyzeBuild(ctx, run.parts[0].e, run.parts[0].build); err != nil {
			return err
		}
		if _, err := r.pool.Exec(ctx, `UPDATE `+r.sqls.builds+` SET status = 'done', updated_at = now() WHERE schema_name = $1`, run.parts[0].build); err != nil {
			return err
		}
		run.setPhase(PhaseDone, 0)
		return nil
	}
	for {
		head, err := r.store.Head(ctx)
		if err != nil {
			return err
		}
		if head <= reached+eventstore.Position(r.opts.SwapMaxLag) { //nolint:gosec // positive option
			break
		}
		run.setPhase(PhaseCatchingUp, head)
		job.from, job.to = reached, head
		if reached, err = r.replay(ctx, job); err != nil {
			return err
		}
	}
	run.setPhase(PhaseSwapping, 0)
	for _, p := range run.parts {
		// Statistics before the portal reads the build: without them PostgreSQL plans on a
		// guess of the tables' sizes (or on the statistics of nothing, for a build started
		// empty) until autovacuum analyzes them, and there is no autovacuum where it is off.
		if err := r.analyzeBuild(ctx, p.e, p.build); err != nil {
			return err
		}
		if err := r.swap(ctx, p.e, p.build); err != nil {
			return err
		}
		p.swapped = true
	}
	run.setPhase(PhaseDone, 0)
	return nil
}

// replayFromZero fills the run's empty builds up to job.to, through their projections' Loads
// when withLoads (and they have one), and leaves job's targets committing through Apply for
// the catch-ups that follow. It returns the position reached.
func (run *buildRun) replayFromZero(ctx context.Context, job *replayJob, folded func([]Event) []Event, withLoads bool) (eventstore.Position, error) {
	r := run.r
	loads := make([]Load, len(run.parts))
	job.targets, job.from = nil, 0
	for i, p := range run.parts {
		if withLoads && p.e.tuning.NewLoad != nil {
			loads[i] = p.e.tuning.NewLoad()
		}
		job.targets = append(job.targets, replayTarget{e: p.e, build: p.build, commit: r.commitBuild(p.e, p.build, loads[i], folded)})
	}
	reached, err := r.replay(ctx, *job)
	if err != nil {
		return reached, err
	}
	// The Loads write what they still hold, side by side; the catch-up goes through Apply.
	g, gctx := errgroup.WithContext(ctx)
	for i, p := range run.parts {
		if loads[i] != nil {
			g.Go(func() error { return r.flushLoad(gctx, p.e, p.build, loads[i], reached) })
		}
		job.targets[i].commit = r.commitBuild(p.e, p.build, nil, folded)
	}
	return reached, g.Wait()
}

// countStalls records how many tenants each build of the run stalled, and warns of them.
func (run *buildRun) countStalls(ctx context.Context) {
	counts := map[string]int{}
	for _, p := range run.parts {
		var n int
		if err := run.r.pool.QueryRow(ctx, `SELECT count(*) FROM `+run.r.sqls.stalls+` WHERE build = $1`, p.build).Scan(&n); err != nil {
			run.r.log.Error().Err(err).Str("projection", p.e.name).Str("build", p.build).
				Msg("projections: cannot count the build's tenant stalls; see dotmac projections status")
			continue
		}
		counts[p.build] = n
		if n > 0 {
			run.r.log.Warn().Str("projection", p.e.name).Str("build", p.build).Int("tenants", n).
				Msg("projections: the build stopped applying some tenants' events (tenant stalls); see dotmac projections status")
		}
	}
	run.mu.Lock()
	run.stalls = counts
	run.mu.Unlock()
}

// advance records progress after a committed batch.
func (run *buildRun) advance(pos eventstore.Position, n int) {
	run.mu.Lock()
	run.pos = pos
	if elapsed := time.Since(run.start).Seconds(); elapsed > 0 {
		run.eventsPerSecond = float64(pos) / elapsed
	}
	run.mu.Unlock()
	for _, p := range run.parts {
		pr := run.progress(p)
		run.r.metrics.applied(p.e.name, "rebuild", n, 0)
		run.r.metrics.rebuildProgress(pr)
	}
	run.report()
}

// setPhase moves to phase; a non-zero target (catching up to a new head) replaces the target.
func (run *buildRun) setPhase(phase string, target eventstore.Position) {
	run.mu.Lock()
	run.phase = phase
	if target > 0 {
		run.target, run.head = target, target
	}
	run.mu.Unlock()
	run.report()
}

// report tells opts.Progress, with the projections' and builds' names joined when several.
func (run *buildRun) report() {
	if run.opts.Progress == nil {
		return
	}
	p := run.progress(run.parts[0])
	if len(run.parts) > 1 {
		names := make([]string, len(run.parts))
		for i, part := range run.parts {
			names[i] = part.e.name
		}
		p.Projection, p.Build = strings.Join(names, ","), run.builds()
	}
	run.opts.Progress(p)
}

// progress is part's view of the run.
func (run *buildRun) progress(part *buildPart) Progress {
	run.mu.Lock()
	defer run.mu.Unlock()
	p := Progress{Projection: part.e.name, Build: part.build, Version: part.e.p.Version(), Purpose: purposeShadow,
		Phase: run.phase, Position: run.pos, Target: run.target, Head: run.head, EventsPerSecond: run.eventsPerSecond,
		StartedAt: run.start, ElapsedSeconds: time.Since(run.start).Seconds(), Error: run.failure, StalledTenants: run.stalls[part.build]}
	if run.copy {
		p.Purpose = purposeAsOf
	}
	if p.EventsPerSecond > 0 && p.Target > p.Position && run.phase != PhaseDone {
		p.ETASeconds = float64(p.Target-p.Position) / p.EventsPerSecond
	}
	return p
}

// fail drops the builds not swapped in and puts their projections' states back.
func (run *buildRun) fail(err error) {
	r := run.r
	run.mu.Lock()
	run.phase, run.failure = PhaseFailed, err.Error()
	run.mu.Unlock()
	r.log.Error().Err(err).Str("builds", run.builds()).Msg("projections: rebuild failed; its builds are dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range run.parts {
		if p.swapped || p.build == "" {
			continue
		}
		if derr := r.dropBuild(ctx, p.build); derr != nil {
			r.log.Warn().Err(derr).Str("build", p.build).Msg("projections: dropping the failed build; the next start cleans it up")
		}
		if !run.copy {
			_ = r.setState(ctx, p.e.name, StateRunning, StateRebuilding)
		}
	}
	run.report()
}

// abandon releases the run's locks and forgets it; with drop (a start that failed half way)
// it first drops the builds already created.
func (run *buildRun) abandon(drop bool) {
	if drop {
		run.dropUnstarted()
	}
	run.r.mu.Lock()
	for _, p := range run.parts {
		delete(run.r.builds, p.build)
	}
	run.r.mu.Unlock()
	for _, p := range run.parts {
		p.g.release()
		run.r.metrics.rebuildDone(p.e.name)
	}
}

// dropUnstarted drops the builds of a run that never began replaying.
func (run *buildRun) dropUnstarted() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, p := range run.parts {
		if p.build == "" || p.swapped {
			continue
		}
		_ = run.r.dropBuild(ctx, p.build)
		if !run.copy {
			_ = run.r.setState(ctx, p.e.name, StateRunning, StateRebuilding)
		}
	}
}

// countFolded returns, for a copy, the filter of the events its projection folds, counted in
// run.folded: every event; for a business date, the count is of those dated by then (the
// projection is given every event and leaves out what is dated later, see BusinessDated).
// Nil for a shadow rebuild.
func (run *buildRun) countFolded() func([]Event) []Event {
	if !run.copy {
		return nil
	}
	keep := run.opts.AsOf.keep()
	return func(evs []Event) []Event {
		n := len(evs)
		if keep != nil {
			n = 0
			for i := range evs {
				if keep(evs[i]) {
					n++
				}
			}
		}
		run.folded.Add(int64(n))
		return evs
	}
}

func (run *buildRun) asOf() string {
	if run.opts.AsOf == nil {
		return "the head"
	}
	return run.opts.AsOf.String()
}
