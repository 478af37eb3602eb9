package projections

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// AsOf is the point in history of a point-in-time copy: a position, a time standing for the
// last position recorded at or before it, or a business date (Business): every event recorded
// so far, less those whose business date (domain.BusinessDate) is after it.
type AsOf struct {
	Position eventstore.Position
	Time     time.Time
	Business domain.Date
}

// How a date given as an as-of is read (ParseAsOfBy).
const (
	// AsOfByBusiness reads a date as a business date (the default).
	AsOfByBusiness = "business"
	// AsOfByRecorded reads a date as the end of that day (UTC) in recorded time.
	AsOfByRecorded = "recorded"
)

// ParseAsOf reads a position ("120000"), a timestamp (RFC 3339, "2026-03-31T18:00:00Z") or a
// business date ("2026-03-31"); it is ParseAsOfBy(s, "").
func ParseAsOf(s string) (AsOf, error) { return ParseAsOfBy(s, "") }

// ParseAsOfBy reads s as ParseAsOf does, a date going by by: AsOfByBusiness (or "") a business
// date, AsOfByRecorded the end of that day UTC in recorded time. A position or a time with by
// set is refused: by says how to read a date only.
func ParseAsOfBy(s, by string) (AsOf, error) {
	s = strings.TrimSpace(s)
	switch by {
	case "", AsOfByBusiness, AsOfByRecorded:
	default:
		return AsOf{}, fmt.Errorf("%w: as-of-by %q: give %s or %s", ErrInvalidRebuild, by, AsOfByBusiness, AsOfByRecorded)
	}
	d, err := time.Parse(time.DateOnly, s)
	if err == nil {
		if by == AsOfByRecorded {
			return AsOf{Time: d.AddDate(0, 0, 1).Add(-time.Microsecond)}, nil
		}
		return AsOf{Business: domain.DateOf(d)}, nil
	}
	if by != "" {
		return AsOf{}, fmt.Errorf("%w: as-of %q: as-of-by goes with a date (2006-01-02) only", ErrInvalidRebuild, s)
	}
	if n, err := strconv.ParseUint(s, 10, 63); err == nil {
		return AsOf{Position: eventstore.Position(n)}, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return AsOf{Time: t}, nil
	}
	return AsOf{}, fmt.Errorf("%w: as-of %q: give a position, a date (2006-01-02) or an RFC 3339 time", ErrInvalidRebuild, s)
}

func (a AsOf) String() string {
	switch {
	case !a.Business.IsZero():
		return a.Business.String() + " (business date)"
	case !a.Time.IsZero():
		return a.Time.Format(time.RFC3339Nano)
	}
	return strconv.FormatUint(uint64(a.Position), 10)
}

// keep returns, for a business-date as-of, whether event e is dated by then (no business
// date: always), which a copy counts as folded; nil for other as-ofs (every event up to the
// target).
func (a *AsOf) keep() func(Event) bool {
	if a == nil || a.Business.IsZero() {
		return nil
	}
	return func(e Event) bool {
		d, ok := domain.BusinessDate(e.Payload)
		return !ok || !d.After(a.Business)
	}
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
	// By says who asked for a copy (Into), for the copy catalog: an operator token's
	// subject, or cli:<user>.
	By string
}

// Progress describes a build being filled.
type Progress struct {
	Projection string `json:"projection"`
	Build      string `json:"build"`
	Version    int    `json:"version"`
	// Purpose is "shadow" (swapped in when caught up) or "as_of" (a copy).
	Purpose string `json:"purpose"`
	// Phase is replaying, indexing, catching_up, swapping, done or failed.
	Phase           string              `json:"phase"`
	Position        eventstore.Position `json:"position"`
	Target          eventstore.Position `json:"target"`
	Head            eventstore.Position `json:"head"`
	EventsPerSecond float64             `json:"events_per_second"`
	ETASeconds      float64             `json:"eta_seconds"`
	StartedAt       time.Time           `json:"started_at"`
	ElapsedSeconds  float64             `json:"elapsed_seconds"`
	Error           string              `json:"error,omitempty"`
	// StalledTenants counts the tenants the finished build stopped applying (an event it could
	// not decode or apply; see TenantStall): their rows stop before that event.
	StalledTenants int `json:"stalled_tenants,omitempty"`
}

// Phases of a build.
const (
	PhaseReplaying  = "replaying"
	PhaseIndexing   = "indexing" // the deferred indexes (Indexer) of the filled build
	PhaseCatchingUp = "catching_up"
	PhaseSwapping   = "swapping"
	PhaseDone       = "done"
	PhaseFailed     = "failed"
)

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

// checkBusinessDated refuses a business-date copy of a projection that does not go by
// business date (see BusinessDated).
func checkBusinessDated(e *entry, opts RebuildOptions) error {
	if opts.AsOf == nil || opts.AsOf.Business.IsZero() {
		return nil
	}
	if _, ok := e.p.(BusinessDated); ok {
		return nil
	}
	return fmt.Errorf("%w: projection %s does not go by business date: copy it as of a recorded time (--as-of-by recorded), "+
		"or ask the ledger for a balance as of a business date (dotmac audit as-of --date)", ErrInvalidRebuild, e.name)
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

// ResolveAsOf returns the position a point in history stands for (the head for a business
// date: the copy then leaves out the events dated after it).
func (r *Runtime) ResolveAsOf(ctx context.Context, a AsOf) (eventstore.Position, error) {
	if !a.Business.IsZero() {
		return r.store.Head(ctx) // a business date can be entered at any time: read everything
	}
	if a.Time.IsZero() {
		return a.Position, nil
	}
	return r.feed.positionAt(ctx, a.Time)
}

// swap makes build e's live build: under the projection's lock (every live partition's
// applier waits) it applies the events between build's checkpoint and the head, splits that
// checkpoint into one per partition of build (each at it), points the views at build, and
// updates the registry, in one transaction; then it drops the old build.
func (r *Runtime) swap(ctx context.Context, e *entry, build string) error {
	tx, lb, found, err := r.beginLocked(ctx, e)
	if err != nil {
		return err
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	cp, err := r.finalCatchUp(ctx, tx, e, build)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT partitions FROM `+r.sqls.builds+` WHERE schema_name = $1`, build).Scan(&n); err != nil {
		return fmt.Errorf("read the partitions of %s: %w", build, err)
	}
	if err := r.splitCheckpoint(ctx, tx, build, n); err != nil {
		return err
	}
	if err := r.pointViews(ctx, tx, e, build, lb.tables); err != nil {
		return err
	}
	if err := r.registerSwap(ctx, tx, e, build, lb.build, found); err != nil {
		return err
	}
	// The new build may hold tenant stalls recorded while it was filled: announce them before
	// the checkpoint, so a tenant waiter woken by the swap re-reads its tenant's stall.
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, r.sqls.channel, e.name+":"+noteStalls); err != nil {
		return err
	}
	for k := range max(n, 1) {
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, r.sqls.channel, notePayload(e.name, n, k, strconv.FormatUint(uint64(cp), 10))); err != nil {
			return err
		}
	}
	if err := r.commitTx(ctx, tx); err != nil {
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
	var cpAt *time.Time
	if err := tx.QueryRow(ctx, r.sqls.cp.Read, buildConsumer(build)).Scan(&cp, &cpAt); err != nil {
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
		r.decodeInPlace(decodeSet{e}, evs)
		if err := r.applyTo(ctx, tx, e, wholeSpan(build), evs, &evs[len(evs)-1], false, true); err != nil {
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
