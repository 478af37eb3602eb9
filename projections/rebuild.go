package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dotmac/ledger/eventstore"
)

// AsOf is the point in history of a point-in-time copy: a position, or a time standing for
// the last position recorded at or before it.
type AsOf struct {
	Position eventstore.Position
	Time     time.Time
}

// ParseAsOf reads a position ("120000"), a timestamp (RFC 3339, "2026-03-31T18:00:00Z") or a
// date ("2026-03-31", meaning the end of that day, UTC).
func ParseAsOf(s string) (AsOf, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseUint(s, 10, 63); err == nil {
		return AsOf{Position: eventstore.Position(n)}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return AsOf{Time: t}, nil
	}
	if d, err := time.Parse(time.DateOnly, s); err == nil {
		return AsOf{Time: d.AddDate(0, 0, 1).Add(-time.Microsecond)}, nil
	}
	return AsOf{}, fmt.Errorf("%w: as-of %q: give a position, a date (2006-01-02) or an RFC 3339 time", ErrInvalidRebuild, s)
}

func (a AsOf) String() string {
	if !a.Time.IsZero() {
		return a.Time.Format(time.RFC3339Nano)
	}
	return strconv.FormatUint(uint64(a.Position), 10)
}

// RebuildOptions shape a rebuild.
type RebuildOptions struct {
	// AsOf stops the build at a point in history; it needs Into.
	AsOf *AsOf
	// Into makes the build a copy in this new schema that never serves queries (up to AsOf,
	// or up to the head when the rebuild starts). Empty: a shadow build, swapped in for the
	// live one when caught up.
	Into string
	// Progress, if set, is called after every committed batch and at the end.
	Progress func(Progress)
}

// Progress describes a build being filled.
type Progress struct {
	Projection string `json:"projection"`
	Build      string `json:"build"`
	Version    int    `json:"version"`
	// Purpose is "shadow" (swapped in when caught up) or "as_of" (a copy).
	Purpose string `json:"purpose"`
	// Phase is replaying, catching_up, swapping, done or failed.
	Phase           string              `json:"phase"`
	Position        eventstore.Position `json:"position"`
	Target          eventstore.Position `json:"target"`
	Head            eventstore.Position `json:"head"`
	EventsPerSecond float64             `json:"events_per_second"`
	ETASeconds      float64             `json:"eta_seconds"`
	StartedAt       time.Time           `json:"started_at"`
	ElapsedSeconds  float64             `json:"elapsed_seconds"`
	Error           string              `json:"error,omitempty"`
}

// Phases of a build.
const (
	PhaseReplaying  = "replaying"
	PhaseCatchingUp = "catching_up"
	PhaseSwapping   = "swapping"
	PhaseDone       = "done"
	PhaseFailed     = "failed"
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
	run, err := r.beginRebuild(ctx, name, opts)
	if err != nil {
		return Progress{}, err
	}
	return run.execute(ctx)
}

// StartRebuild starts Rebuild in the background (until Stop) and returns once the build
// exists, with its first progress.
func (r *Runtime) StartRebuild(ctx context.Context, name string, opts RebuildOptions) (Progress, error) {
	run, err := r.beginRebuild(ctx, name, opts)
	if err != nil {
		return Progress{}, err
	}
	r.goBackground(func(ctx context.Context) { _, _ = run.execute(ctx) })
	return run.snapshot(), nil
}

// rebuildForVersion starts the rebuild that replaces a live build of another version.
func (r *Runtime) rebuildForVersion(e *entry) {
	r.log.Info().Str("projection", e.name).Int("version", e.p.Version()).
		Msg("projections: the live build has another version: rebuilding; the old build serves queries meanwhile")
	if _, err := r.StartRebuild(r.life, e.name, RebuildOptions{}); err != nil && !errors.Is(err, ErrRebuildInProgress) {
		r.log.Error().Err(err).Str("projection", e.name).Msg("projections: could not start the rebuild for the new version")
	}
}

// buildRun is a rebuild in this process.
type buildRun struct {
	r     *Runtime
	e     *entry
	g     *guard
	opts  RebuildOptions
	build string
	copy  bool
	start time.Time

	mu   sync.Mutex
	prog Progress
}

func (r *Runtime) beginRebuild(ctx context.Context, name string, opts RebuildOptions) (*buildRun, error) {
	e, err := r.entry(name)
	if err != nil {
		return nil, err
	}
	if err := r.checkRebuild(opts); err != nil {
		return nil, err
	}
	target, head, err := r.rebuildTarget(ctx, opts)
	if err != nil {
		return nil, err
	}
	key := e.rebuildKey
	if opts.Into != "" {
		key = lockKey(r.app, "build", opts.Into)
	}
	g, err := r.acquireGuard(ctx, key)
	if err != nil {
		return nil, err
	}
	run := &buildRun{r: r, e: e, g: g, opts: opts, copy: opts.Into != "", start: time.Now()}
	if err := run.create(ctx, target); err != nil {
		g.release()
		return nil, err
	}
	run.prog = Progress{Projection: name, Build: run.build, Version: e.p.Version(), Purpose: purposeShadow, Phase: PhaseReplaying,
		Target: target, Head: head, StartedAt: run.start}
	if run.copy {
		run.prog.Purpose = purposeAsOf
	}
	r.mu.Lock()
	r.builds[run.build] = run
	r.mu.Unlock()
	r.log.Info().Str("projection", name).Str("build", run.build).Str("purpose", run.prog.Purpose).
		Uint64("target", uint64(target)).Msg("projections: rebuild started")
	return run, nil
}

func (r *Runtime) checkRebuild(opts RebuildOptions) error {
	switch {
	case opts.AsOf != nil && opts.Into == "":
		return fmt.Errorf("%w: an as-of build needs a schema to go into (--into), so it never touches the live one", ErrInvalidRebuild)
	case opts.Into != "" && !ValidSchemaName(opts.Into):
		return fmt.Errorf("%w: schema name %q: use up to 63 of a-z, 0-9 and '_', not starting with a digit or pg_", ErrInvalidRebuild, opts.Into)
	case opts.Into != "" && (opts.Into == r.app || strings.HasPrefix(opts.Into, r.app+"__")):
		return fmt.Errorf("%w: schema name %q is the application's or reserved for its builds", ErrInvalidRebuild, opts.Into)
	}
	return nil
}

// rebuildTarget returns the position a build must reach (the as-of position, or the head)
// and the head.
func (r *Runtime) rebuildTarget(ctx context.Context, opts RebuildOptions) (target, head eventstore.Position, err error) {
	head, err = r.store.Head(ctx)
	if err != nil {
		return 0, 0, err
	}
	if opts.AsOf == nil {
		return head, head, nil
	}
	target, err = r.ResolveAsOf(ctx, *opts.AsOf)
	if err != nil {
		return 0, 0, err
	}
	if target > head {
		return 0, 0, fmt.Errorf("%w: position %d is beyond the head %d", ErrInvalidRebuild, target, head)
	}
	return target, head, nil
}

// ResolveAsOf returns the position a point in history stands for.
func (r *Runtime) ResolveAsOf(ctx context.Context, a AsOf) (eventstore.Position, error) {
	if a.Time.IsZero() {
		return a.Position, nil
	}
	return r.feed.positionAt(ctx, a.Time)
}

// create makes the build (schema, Setup, record) and, for a shadow, marks the projection
// rebuilding.
func (run *buildRun) create(ctx context.Context, target eventstore.Position) error {
	r := run.r
	spec := buildSpec{purpose: purposeShadow}
	if run.copy {
		spec = buildSpec{purpose: purposeAsOf, schema: run.opts.Into, target: &target}
	}
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	run.build, err = r.createBuild(ctx, tx, run.e, spec)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P06" {
		return fmt.Errorf("%w: schema %q already exists; choose a new one", ErrInvalidRebuild, run.opts.Into)
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if run.copy {
		return nil
	}
	run.g.tryLock(ctx, lockKey(r.app, "build", run.build))
	return r.setState(ctx, run.e.name, StateRebuilding, StateRunning, StateCatchingUp)
}

func (run *buildRun) execute(ctx context.Context) (Progress, error) {
	defer run.finish()
	err := run.fill(ctx)
	if err != nil {
		run.fail(err)
	}
	return run.snapshot(), err
}

func (run *buildRun) fill(ctx context.Context) error {
	r, e := run.r, run.e
	job := replayJob{e: e, build: run.build, to: run.snapshot().Target, commit: r.commitBuild(e, run.build), progress: run.advance}
	run.setPhase(PhaseReplaying, 0)
	reached, err := r.replay(ctx, job)
	if err != nil {
		return err
	}
	if run.copy {
		if _, err := r.pool.Exec(ctx, `UPDATE `+r.sqls.builds+` SET status = 'done', updated_at = now() WHERE schema_name = $1`, run.build); err != nil {
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
	if err := r.swap(ctx, e, run.build); err != nil {
		return err
	}
	run.setPhase(PhaseDone, 0)
	return nil
}

// advance records progress after a committed batch.
func (run *buildRun) advance(pos eventstore.Position, n int) {
	run.mu.Lock()
	run.prog.Position = pos
	elapsed := time.Since(run.start)
	run.prog.ElapsedSeconds = elapsed.Seconds()
	if elapsed > 0 {
		run.prog.EventsPerSecond = float64(pos) / elapsed.Seconds()
	}
	if run.prog.EventsPerSecond > 0 && run.prog.Target > pos {
		run.prog.ETASeconds = float64(run.prog.Target-pos) / run.prog.EventsPerSecond
	} else {
		run.prog.ETASeconds = 0
	}
	p := run.prog
	run.mu.Unlock()
	run.r.metrics.applied(run.e.name, "rebuild", n, 0)
	run.r.metrics.rebuildProgress(p)
	if run.opts.Progress != nil {
		run.opts.Progress(p)
	}
}

// setPhase moves to phase; a non-zero target (catching up to a new head) replaces the target.
func (run *buildRun) setPhase(phase string, target eventstore.Position) {
	run.mu.Lock()
	run.prog.Phase = phase
	if target > 0 {
		run.prog.Target, run.prog.Head = target, target
	}
	if phase == PhaseDone {
		run.prog.ETASeconds = 0
		run.prog.ElapsedSeconds = time.Since(run.start).Seconds()
	}
	p := run.prog
	run.mu.Unlock()
	if run.opts.Progress != nil {
		run.opts.Progress(p)
	}
}

func (run *buildRun) snapshot() Progress {
	run.mu.Lock()
	defer run.mu.Unlock()
	return run.prog
}

// fail drops the partial build and puts the projection's state back.
func (run *buildRun) fail(err error) {
	r := run.r
	run.mu.Lock()
	run.prog.Phase, run.prog.Error = PhaseFailed, err.Error()
	p := run.prog
	run.mu.Unlock()
	r.log.Error().Err(err).Str("projection", run.e.name).Str("build", run.build).Msg("projections: rebuild failed; its build is dropped")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if derr := r.dropBuild(ctx, run.build); derr != nil {
		r.log.Warn().Err(derr).Str("build", run.build).Msg("projections: dropping the failed build; the next start cleans it up")
	}
	if !run.copy {
		_ = r.setState(ctx, run.e.name, StateRunning, StateRebuilding)
	}
	if run.opts.Progress != nil {
		run.opts.Progress(p)
	}
}

func (run *buildRun) finish() {
	run.g.release()
	run.r.mu.Lock()
	delete(run.r.builds, run.build)
	run.r.mu.Unlock()
	run.r.metrics.rebuildDone(run.e.name)
}

// swap makes build e's live build: under the projection's lock it applies the events between
// build's checkpoint and the head, points the views at build, and updates the registry, in
// one transaction; then it drops the old build.
func (r *Runtime) swap(ctx context.Context, e *entry, build string) error {
	tx, lb, found, err := r.beginLocked(ctx, e)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	cp, err := r.finalCatchUp(ctx, tx, e, build)
	if err != nil {
		return err
	}
	if err := r.pointViews(ctx, tx, e, build, lb.tables); err != nil {
		return err
	}
	if err := r.registerSwap(ctx, tx, e, build, lb.build, found); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, r.sqls.channel, e.name+":"+strconv.FormatUint(uint64(cp), 10)); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("projection %s: commit the swap: %w", e.name, err)
	}
	r.log.Info().Str("projection", e.name).Str("from", lb.build).Str("to", build).Uint64("position", uint64(cp)).
		Msg("projections: swapped to the rebuilt build")
	if found {
		if err := r.dropBuild(ctx, lb.build); err != nil {
			r.log.Warn().Err(err).Str("build", lb.build).Msg("projections: dropping the old build; the next start cleans it up")
		}
	}
	return nil
}

// finalCatchUp applies, inside the swap's transaction, the events after build's checkpoint up
// to the head, and returns the checkpoint reached.
func (r *Runtime) finalCatchUp(ctx context.Context, tx pgx.Tx, e *entry, build string) (eventstore.Position, error) {
	var cp int64
	if err := tx.QueryRow(ctx, `SELECT checkpoint FROM `+r.sqls.builds+` WHERE schema_name = $1`, build).Scan(&cp); err != nil {
		return 0, fmt.Errorf("read the checkpoint of %s: %w", build, err)
	}
	head, err := r.store.Head(ctx)
	if err != nil {
		return 0, err
	}
	pos := eventstore.Position(cp) //nolint:gosec // non-negative
	for pos < head {
		evs, err := r.feed.read(ctx, pos, head, r.opts.ReplayPageEvents)
		if err != nil {
			return 0, err
		}
		if len(evs) == 0 {
			break
		}
		if _, bad := r.decodeInPlace(e, evs); bad != nil {
			return 0, &ApplyError{Projection: e.name, First: bad.pos, Last: bad.pos, Err: fmt.Errorf("decode: %w", bad.err)}
		}
		if err := r.applyTo(ctx, tx, e, build, evs, false); err != nil {
			return 0, err
		}
		pos = evs[len(evs)-1].Position
	}
	return pos, nil
}

func (r *Runtime) registerSwap(ctx context.Context, tx pgx.Tx, e *entry, build, old string, found bool) error {
	var err error
	if found {
		_, err = tx.Exec(ctx, `UPDATE `+r.sqls.registry+` SET version = $2, live_build = $3, state = 'running', last_error = NULL,
stalled_position = NULL, stalled_at = NULL, updated_at = now() WHERE name = $1`, e.name, e.p.Version(), build)
	} else {
		_, err = tx.Exec(ctx, `INSERT INTO `+r.sqls.registry+` (name, version, live_build, state) VALUES ($1, $2, $3, 'running')`,
			e.name, e.p.Version(), build)
	}
	if err != nil {
		return fmt.Errorf("projection %s: update the registry: %w", e.name, err)
	}
	if _, err := tx.Exec(ctx, `UPDATE `+r.sqls.builds+` SET status = CASE WHEN schema_name = $1 THEN 'live' ELSE 'retired' END,
updated_at = now() WHERE schema_name IN ($1, $2)`, build, old); err != nil {
		return fmt.Errorf("projection %s: update the builds: %w", e.name, err)
	}
	return nil
}
