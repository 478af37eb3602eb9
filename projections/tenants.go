package projections

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// TenantStall is a tenant a build stopped applying: the event at Position (of that tenant)
// did not decode, or Apply could not fold it. The build goes on with every other tenant's
// events and leaves out this tenant's from Position on until Retry replays them. Error is for
// operators only; the tenant's queries get ErrorID (see TenantStalledError).
type TenantStall struct {
	Projection string              `json:"projection"`
	Build      string              `json:"build"`
	Tenant     string              `json:"tenant"`
	Position   eventstore.Position `json:"position"`
	ErrorID    string              `json:"error_id"`
	Error      string              `json:"error"`
	StalledAt  time.Time           `json:"stalled_at"`
	// Retries counts the retries that failed again.
	Retries int `json:"retries"`
}

// TenantStalledError is WaitForTenant's answer for a tenant the projection's live build has
// stopped applying. It names the projection and the error id an operator finds the stall under
// (Status.StalledTenants, the log), and nothing of the event: no stream, tenant or payload.
type TenantStalledError struct {
	Projection string
	ErrorID    string
	Reached    eventstore.Position
}

func (e *TenantStalledError) Error() string {
	return fmt.Sprintf("projection %s cannot answer for this tenant until an operator retries it (error id %s)", e.Projection, e.ErrorID)
}

// Is makes errors.Is(err, ErrStalled) true.
func (e *TenantStalledError) Is(target error) bool { return target == ErrStalled }

// maxListedStalls bounds the tenant stalls a Status lists (StalledTenantCount counts them all).
const maxListedStalls = 100

// newErrorID returns a fresh opaque error id: "err-" and 16 hex digits.
func newErrorID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "err-" + hex.EncodeToString(b[:])
}

// tenantOf is the tenant an event belongs to ("" when its metadata names none).
func tenantOf(ev *Event) string { return ev.Metadata.TenantID }

// stalledTenants reads the tenants stalled in build (nil when none).
func (r *Runtime) stalledTenants(ctx context.Context, q pgx.Tx, build string) (map[string]bool, error) {
	rows, err := q.Query(ctx, `SELECT tenant FROM `+r.sqls.stalls+` WHERE build = $1`, build)
	if err != nil {
		return nil, fmt.Errorf("read the tenant stalls of %s: %w", build, err)
	}
	tenants, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("read the tenant stalls of %s: %w", build, err)
	}
	var out map[string]bool
	for _, t := range tenants {
		if out == nil {
			out = map[string]bool{}
		}
		out[t] = true
	}
	return out, nil
}

// foldTenants applies evs (in global order) with apply within tx, whose search_path is build.
// The events of tenants stalled in build are left out. An event that does not decode (and e
// handles), or, with isolate, that Apply cannot fold alone, stalls its tenant in build: the
// stall is recorded in tx and the tenant's later events are left out too, while every other
// tenant's events are applied. Without isolate a failing Apply returns its *ApplyError (the
// live projector retries, then isolates). Transient and context errors are returned either way,
// never recorded as stalls.
// stalled are the tenants stalled in build (stalledTenants), read by the caller in tx.
func (r *Runtime) foldTenants(ctx context.Context, tx pgx.Tx, e *entry, apply applyFunc, build string, stalled map[string]bool, evs []Event, isolate bool) error {
	var fresh []TenantStall
	stall := func(ev *Event, cause error) {
		if stalled == nil {
			stalled = map[string]bool{}
		}
		stalled[tenantOf(ev)] = true
		fresh = append(fresh, TenantStall{Projection: e.name, Build: build, Tenant: tenantOf(ev), Position: ev.Position, Error: cause.Error()})
	}
	keep := evs
	if stalled != nil || undecoded(e, evs) {
		keep = make([]Event, 0, len(evs))
		for i := range evs {
			switch ev := &evs[i]; {
			case stalled[tenantOf(ev)]:
			case ev.decodeErr != nil && e.handlesType(ev.Type):
				stall(ev, fmt.Errorf("projection %s: decode position %d: %w", e.name, ev.Position, ev.decodeErr))
			default:
				keep = append(keep, *ev)
			}
		}
	}
	for len(keep) > 0 {
		if !isolate {
			if err := safeApply(ctx, e, apply, tx, keep); err != nil {
				return err
			}
			break
		}
		n, err := applyPrefix(ctx, tx, e, apply, keep)
		if err == nil {
			break
		}
		var ae *ApplyError
		if !errors.As(err, &ae) || ctx.Err() != nil || transient(err) {
			return err
		}
		stall(&keep[n], ae)
		keep = withoutTenants(keep[n+1:], stalled)
	}
	return r.recordStalls(ctx, tx, e, fresh)
}

// undecoded reports whether an event of evs that e handles did not decode.
func undecoded(e *entry, evs []Event) bool {
	for i := range evs {
		if evs[i].decodeErr != nil && e.handlesType(evs[i].Type) {
			return true
		}
	}
	return false
}

// withoutTenants returns the events of evs whose tenant is not in tenants.
func withoutTenants(evs []Event, tenants map[string]bool) []Event {
	out := make([]Event, 0, len(evs))
	for i := range evs {
		if !tenants[tenantOf(&evs[i])] {
			out = append(out, evs[i])
		}
	}
	return out
}

// recordStalls inserts stalls, each under a new error id, within tx, has each logged with its
// full error under that id once tx commits (commitTx), and announces them to waiters (before the checkpoint, so a waiter woken
// by the new checkpoint already knows).
func (r *Runtime) recordStalls(ctx context.Context, tx pgx.Tx, e *entry, stalls []TenantStall) error {
	if len(stalls) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for i := range stalls {
		s := &stalls[i]
		s.ErrorID = newErrorID()
		b.Queue(`INSERT INTO `+r.sqls.stalls+` (build, projection, tenant, position, error_id, error) VALUES ($1, $2, $3, $4, $5, $6)`,
			s.Build, s.Projection, s.Tenant, int64(s.Position), s.ErrorID, truncate(s.Error)) //nolint:gosec // positions fit
	}
	b.Queue(`SELECT pg_notify($1, $2)`, r.sqls.channel, e.name+":"+noteStalls)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("record the tenant stalls of %s: %w", e.name, err)
	}
	r.stallLogs.add(tx, stalls)
	return nil
}

// stallLogs holds the stalls recorded in each open transaction, to be logged once it commits:
// a stall whose transaction rolls back (and is recorded again, under a new error id, by the
// next attempt) is never logged under an id that exists in no table.
type stallLogs struct {
	mu sync.Mutex
	m  map[pgx.Tx][]TenantStall
}

func (l *stallLogs) add(tx pgx.Tx, stalls []TenantStall) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.m == nil {
		l.m = map[pgx.Tx][]TenantStall{}
	}
	l.m[tx] = append(l.m[tx], stalls...)
}

func (l *stallLogs) take(tx pgx.Tx) []TenantStall {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.m[tx]
	delete(l.m, tx)
	return s
}

// commitTx commits tx, then logs the tenant stalls recorded in it.
func (r *Runtime) commitTx(ctx context.Context, tx pgx.Tx) error {
	err := tx.Commit(ctx)
	stalls := r.stallLogs.take(tx)
	if err != nil {
		return err
	}
	r.logStalls(stalls)
	return nil
}

// rollbackTx rolls tx back (a no-op once committed) and forgets the stalls recorded in it.
func (r *Runtime) rollbackTx(ctx context.Context, tx pgx.Tx) {
	_ = tx.Rollback(context.WithoutCancel(ctx))
	r.stallLogs.take(tx)
}

// logStalls logs each recorded stall with its full error under its error id.
func (r *Runtime) logStalls(stalls []TenantStall) {
	for _, s := range stalls {
		r.log.Error().Str("projection", s.Projection).Str("build", s.Build).Str("tenant", s.Tenant).
			Uint64("position", uint64(s.Position)).Str("error_id", s.ErrorID).Str("error", s.Error).
			Msg("projections: tenant STALLED: this build leaves out the tenant's events from this one until `dotmac projections retry`")
	}
}

// truncate bounds an error text kept in the database.
func truncate(s string) string {
	if len(s) > maxErrorBytes {
		return strings.ToValidUTF8(s[:maxErrorBytes], "")
	}
	return s
}

// tenantStalls reads the stalls of every live build, the first maxListedStalls of each
// projection by position, and how many each has.
func (r *Runtime) tenantStalls(ctx context.Context) (map[string][]TenantStall, map[string]int, error) {
	rows, err := r.pool.Query(ctx, `SELECT projection, build, tenant, position, error_id, error, stalled_at, retries, n FROM (
  SELECT s.*, row_number() OVER (PARTITION BY s.projection ORDER BY s.position, s.tenant) AS k,
         count(*) OVER (PARTITION BY s.projection) AS n
  FROM `+r.sqls.stalls+` s JOIN `+r.sqls.registry+` g ON g.name = s.projection AND g.live_build = s.build) x
WHERE k <= $1 ORDER BY projection, position, tenant`, maxListedStalls)
	if err != nil {
		return nil, nil, fmt.Errorf("read the tenant stalls: %w", err)
	}
	out, counts := map[string][]TenantStall{}, map[string]int{}
	var s TenantStall
	var pos, n int64
	_, err = pgx.ForEachRow(rows, []any{&s.Projection, &s.Build, &s.Tenant, &pos, &s.ErrorID, &s.Error, &s.StalledAt, &s.Retries, &n}, func() error {
		s.Position = eventstore.Position(pos) //nolint:gosec // positive
		out[s.Projection] = append(out[s.Projection], s)
		counts[s.Projection] = int(n)
		return nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("read the tenant stalls: %w", err)
	}
	return out, counts, nil
}
