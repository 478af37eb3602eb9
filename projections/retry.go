package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// RetryOptions say which tenant stalls Retry replays.
type RetryOptions struct {
	// Projections names the projections (none: every registered one).
	Projections []string
	// Tenants names the tenants (none: every stalled one).
	Tenants []string
}

// RetryResult is what Retry did for one stalled tenant of a projection.
type RetryResult struct {
	Projection string `json:"projection"`
	Tenant     string `json:"tenant"`
	// From is the position the stall was at; To the live build's checkpoint, the last position
	// replayed.
	From eventstore.Position `json:"from"`
	To   eventstore.Position `json:"to"`
	// Cleared: every event of the tenant applied, the stall is gone. Otherwise Stall is the new
	// stall (the position that failed now, under a new error id).
	Cleared bool         `json:"cleared"`
	Stall   *TenantStall `json:"stall,omitempty"`
}

// Retry replays, for each tenant stalled in the live build of the projections opts names, the
// tenant's events from the stall's position up to the build's checkpoint, with this binary's
// code (after a fix: new code, an upcaster). If all apply, the stall is cleared and the tenant's
// later events are applied live again; if one fails, the stall moves to it under a new error id.
// Each projection is retried in one transaction holding the projection's apply lock, the one
// the live projector takes for each batch, so the two never interleave. Nothing stalled:
// nothing done, no results; a second retry after a successful one does nothing.
//
// Errors: ErrUnknownProjection; ErrOtherVersion for a live build of another version than this
// binary's (retry with the binary that runs it).
func (r *Runtime) Retry(ctx context.Context, opts RetryOptions) ([]RetryResult, error) {
	names := opts.Projections
	if len(names) == 0 {
		names = r.order
	}
	es := make([]*entry, len(names))
	for i, n := range names {
		e, err := r.entry(n)
		if err != nil {
			return nil, err
		}
		es[i] = e
	}
	var out []RetryResult
	for _, e := range es {
		res, err := r.retry(ctx, e, opts.Tenants)
		out = append(out, res...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// retry replays e's stalled tenants (those of tenants; none: all) in one locked transaction.
func (r *Runtime) retry(ctx context.Context, e *entry, tenants []string) ([]RetryResult, error) {
	tx, lb, found, err := r.beginLocked(ctx, e)
	if err != nil {
		return nil, err
	}
	defer func() { r.rollbackTx(ctx, tx) }()
	if !found {
		return nil, nil
	}
	stalls, err := r.takeStalls(ctx, tx, lb.build, tenants)
	if err != nil || len(stalls) == 0 {
		return nil, err
	}
	if lb.version != e.p.Version() {
		return nil, fmt.Errorf("%w: projection %s: the live build is version %d, this binary's is %d: retry with the binary that runs it",
			ErrOtherVersion, e.name, lb.version, e.p.Version())
	}
	out := make([]RetryResult, 0, len(stalls))
	for _, s := range stalls {
		res, err := r.replayTenant(ctx, tx, e, &lb, s)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	if _, err := tx.Exec(ctx, `SELECT pg_notify($1, $2)`, r.sqls.channel, e.name+":"+noteStalls); err != nil {
		return nil, err
	}
	if err := r.commitTx(ctx, tx); err != nil {
		return nil, fmt.Errorf("projection %s: commit the retry: %w", e.name, err)
	}
	for _, res := range out {
		r.log.Info().Str("projection", res.Projection).Str("tenant", res.Tenant).Uint64("from", uint64(res.From)).
			Uint64("to", uint64(res.To)).Bool("cleared", res.Cleared).Msg("projections: retried a stalled tenant")
	}
	return out, nil
}

// takeStalls deletes and returns build's stalls of tenants (none: all), by position.
func (r *Runtime) takeStalls(ctx context.Context, tx pgx.Tx, build string, tenants []string) ([]TenantStall, error) {
	rows, err := tx.Query(ctx, `DELETE FROM `+r.sqls.stalls+` WHERE build = $1 AND (coalesce(cardinality($2::text[]), 0) = 0 OR tenant = ANY($2))
RETURNING projection, build, tenant, position, error_id, error, stalled_at, retries`, build, tenants)
	if err != nil {
		return nil, fmt.Errorf("read the tenant stalls of %s: %w", build, err)
	}
	stalls, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (TenantStall, error) {
		var s TenantStall
		var pos int64
		err := row.Scan(&s.Projection, &s.Build, &s.Tenant, &pos, &s.ErrorID, &s.Error, &s.StalledAt, &s.Retries)
		s.Position = eventstore.Position(pos) //nolint:gosec // positive
		return s, err
	})
	if err != nil {
		return nil, fmt.Errorf("read the tenant stalls of %s: %w", build, err)
	}
	slices.SortFunc(stalls, func(a, b TenantStall) int { return cmp.Compare(a.Position, b.Position) })
	return stalls, nil
}

// replayTenant applies, within tx, s.Tenant's events from s.Position up to the checkpoint of
// their partition into lb's build (whose checkpoints stay), through foldTenants: an event that
// fails again stalls the tenant anew, and its later events are left out.
func (r *Runtime) replayTenant(ctx context.Context, tx pgx.Tx, e *entry, lb *liveBuild, s TenantStall) (RetryResult, error) {
	build, to := lb.build, slices.Max(lb.cps)
	res := RetryResult{Projection: e.name, Tenant: s.Tenant, From: s.Position, To: to}
	if err := setSearchPath(ctx, tx, ident(build)); err != nil {
		return res, err
	}
	for from := s.Position - 1; from < to; {
		evs, err := r.feed.read(ctx, from, to, r.opts.ReplayPageEvents)
		if err != nil {
			return res, err
		}
		if len(evs) == 0 {
			break
		}
		from = evs[len(evs)-1].Position
		evs = lb.applied(onlyTenant(evs, s.Tenant))
		r.decodeInPlace(decodeSet{e}, evs)
		if len(evs) == 0 {
			continue
		}
		stalled, err := r.stalledTenants(ctx, tx, build)
		if err != nil {
			return res, err
		}
		if err := r.foldTenants(ctx, tx, e, e.p.Apply, build, stalled, evs, true); err != nil {
			return res, err
		}
	}
	again, err := r.stallOf(ctx, tx, build, s.Tenant)
	if errors.Is(err, pgx.ErrNoRows) {
		res.Cleared = true
		return res, nil
	}
	if err != nil {
		return res, err
	}
	again.Retries = s.Retries + 1
	if _, err := tx.Exec(ctx, `UPDATE `+r.sqls.stalls+` SET retries = $3 WHERE build = $1 AND tenant = $2`, build, s.Tenant, again.Retries); err != nil {
		return res, fmt.Errorf("count the retry of %s: %w", s.Tenant, err)
	}
	res.Stall = &again
	return res, nil
}

// onlyTenant returns the events of evs whose tenant is tenant.
func onlyTenant(evs []Event, tenant string) []Event {
	out := evs[:0]
	for i := range evs {
		if tenantOf(&evs[i]) == tenant {
			out = append(out, evs[i])
		}
	}
	return out
}

// stallOf reads tenant's stall in build (pgx.ErrNoRows: none).
func (r *Runtime) stallOf(ctx context.Context, tx pgx.Tx, build, tenant string) (TenantStall, error) {
	var s TenantStall
	var pos int64
	err := tx.QueryRow(ctx, `SELECT projection, build, tenant, position, error_id, error, stalled_at, retries FROM `+r.sqls.stalls+`
WHERE build = $1 AND tenant = $2`, build, tenant).Scan(&s.Projection, &s.Build, &s.Tenant, &pos, &s.ErrorID, &s.Error, &s.StalledAt, &s.Retries)
	s.Position = eventstore.Position(pos) //nolint:gosec // positive
	return s, err
}
