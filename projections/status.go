package projections

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// Status is what an operator sees of a projection.
type Status struct {
	Name string `json:"name"`
	// Version is the live build's; CodeVersion this binary's (they differ until the rebuild
	// a version change starts has swapped).
	Version     int    `json:"version"`
	CodeVersion int    `json:"code_version"`
	State       State  `json:"state"`
	LiveBuild   string `json:"live_build,omitempty"`
	// Position is the live build's checkpoint; Head the newest event's position.
	Position  eventstore.Position `json:"position"`
	Head      eventstore.Position `json:"head"`
	LagEvents uint64              `json:"lag_events"`
	// LagSeconds is how long the oldest event not yet applied has been waiting (0 when
	// caught up).
	LagSeconds float64 `json:"lag_seconds"`
	// Error and StalledPosition say why and where a stalled projection stopped.
	Error           string               `json:"error,omitempty"`
	StalledPosition *eventstore.Position `json:"stalled_position,omitempty"`
	// StalledTenants are the tenants the live build has stopped applying (the first
	// maxListedStalls by position, with the error text: operators only); StalledTenantCount
	// counts them all. Every other tenant's events are applied.
	StalledTenants     []TenantStall `json:"stalled_tenants,omitempty"`
	StalledTenantCount int           `json:"stalled_tenant_count"`
	UpdatedAt          time.Time     `json:"updated_at"`
	// Building lists the builds being filled: a shadow rebuild, as-of copies.
	Building []Progress `json:"building,omitempty"`
	// Holder is the process holding the live build's lease, the one running the projection
	// live ("" when no process holds an unexpired lease: no projector runs it); with several
	// partitions, the processes holding any of their leases, comma-separated.
	Holder string `json:"holder,omitempty"`
	// RenewedAt is the lease's last heartbeat (nil: never held).
	RenewedAt *time.Time `json:"renewed_at,omitempty"`
	// PartitionCount is how many tenant-hash partitions the live build has (see
	// Options.Partitions); Partitions lists them, with each one's checkpoint and holder, when
	// there are more than one (Position is then the lowest of their checkpoints).
	PartitionCount int               `json:"partition_count,omitempty"`
	Partitions     []PartitionStatus `json:"partitions,omitempty"`
}

// Running reports whether a projector process runs the projection live (holds its lease).
func (st *Status) Running() bool { return st.Holder != "" }

// List returns every registered projection's status, in registration order.
func (r *Runtime) List(ctx context.Context) ([]Status, error) {
	head, err := r.store.Head(ctx)
	if err != nil {
		return nil, err
	}
	// The builds before the registry: a swap ends a build and makes it live in one
	// transaction, so a build this read finds no longer building is live (or retired) in the
	// registry read after it; the other order could see it neither building nor live.
	building, err := r.buildingRows(ctx, head)
	if err != nil {
		return nil, err
	}
	rows, err := r.registryRows(ctx)
	if err != nil {
		return nil, err
	}
	stalls, counts, err := r.tenantStalls(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]Status, 0, len(r.order))
	for _, name := range r.order {
		st, ok := rows[name]
		if !ok {
			st = Status{Name: name, State: StateNew}
		}
		st.CodeVersion, st.Head, st.Building = r.entries[name].p.Version(), head, building[name]
		st.StalledTenants, st.StalledTenantCount = stalls[name], counts[name]
		if err := r.fillLag(ctx, &st); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// Status returns one projection's status (ErrUnknownProjection for a name not registered).
func (r *Runtime) Status(ctx context.Context, name string) (Status, error) {
	if _, err := r.entry(name); err != nil {
		return Status{}, err
	}
	all, err := r.List(ctx)
	if err != nil {
		return Status{}, err
	}
	for _, st := range all {
		if st.Name == name {
			return st, nil
		}
	}
	return Status{}, fmt.Errorf("invariant: %s missing from the status list", name)
}

func (r *Runtime) registryRows(ctx context.Context) (map[string]Status, error) {
	rows, err := r.pool.Query(ctx, `SELECT r.name, r.version, r.state, r.live_build, coalesce(f.position, 0), coalesce(r.last_error, ''),
r.stalled_position, r.updated_at, coalesce(f.positions, '{}'), coalesce(f.holders, '{}'), f.renewed, b.partitions
FROM `+r.sqls.registry+` r JOIN `+r.sqls.builds+` b ON b.schema_name = r.live_build
LEFT JOIN LATERAL (SELECT min(coalesce(c.position, 0)) AS position, array_agg(coalesce(c.position, 0) ORDER BY c.consumer) AS positions,
    array_agg(CASE WHEN c.lease_expires_at > $1 THEN coalesce(c.lease_holder, '') ELSE '' END ORDER BY c.consumer) AS holders,
    max(c.lease_renewed_at) AS renewed
  FROM `+qualified(r.app, "feed_checkpoints")+` c WHERE `+partRowsOf+`) f ON true`, r.leaseNow())
	if err != nil {
		return nil, fmt.Errorf("read the registry: %w", err)
	}
	out := map[string]Status{}
	var st Status
	var cp int64
	var stalled *int64
	var positions []int64
	var hs []string
	var renewed *time.Time
	_, err = pgx.ForEachRow(rows, []any{&st.Name, &st.Version, &st.State, &st.LiveBuild, &cp, &st.Error, &stalled, &st.UpdatedAt,
		&positions, &hs, &renewed, &st.PartitionCount}, func() error {
		s := st
		s.Position = eventstore.Position(cp) //nolint:gosec // non-negative
		parts := make([]PartitionStatus, len(positions))
		for k := range positions {
			parts[k] = PartitionStatus{Partition: k, Position: eventstore.Position(positions[k]), Holder: hs[k]} //nolint:gosec // non-negative
		}
		s.Holder = holders(parts)
		if s.PartitionCount > 1 {
			s.Partitions = parts
		}
		if renewed != nil {
			at := *renewed
			s.RenewedAt = &at
		}
		if stalled != nil {
			p := eventstore.Position(*stalled) //nolint:gosec // non-negative
			s.StalledPosition = &p
		}
		out[s.Name] = s
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the registry: %w", err)
	}
	return out, nil
}

// leaseNow is the time leases are compared with.
func (r *Runtime) leaseNow() time.Time {
	if r.opts.Lease.Now != nil {
		return r.opts.Lease.Now()
	}
	return time.Now()
}

// buildingRows returns the builds being filled, per projection, with progress: this
// process's own from memory, others' from their committed checkpoints.
func (r *Runtime) buildingRows(ctx context.Context, head eventstore.Position) (map[string][]Progress, error) {
	rows, err := r.pool.Query(ctx, `SELECT b.projection, b.schema_name, b.version, b.purpose, coalesce(b.target_position, 0), coalesce(f.position, 0),
b.started_at, greatest(b.updated_at, f.updated_at) FROM `+r.sqls.builds+` b`+r.sqls.checkpointOf+` WHERE b.status = 'building' ORDER BY b.started_at`)
	if err != nil {
		return nil, fmt.Errorf("read the builds: %w", err)
	}
	out := map[string][]Progress{}
	var p Progress
	var target, cp int64
	var updated time.Time
	_, err = pgx.ForEachRow(rows, []any{&p.Projection, &p.Build, &p.Version, &p.Purpose, &target, &cp, &p.StartedAt, &updated}, func() error {
		out[p.Projection] = append(out[p.Projection], r.buildProgress(p, target, cp, updated, head))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the builds: %w", err)
	}
	return out, nil
}

func (r *Runtime) buildProgress(p Progress, target, cp int64, updated time.Time, head eventstore.Position) Progress {
	r.mu.Lock()
	run := r.builds[p.Build]
	r.mu.Unlock()
	if run != nil {
		for _, part := range run.parts {
			if part.build == p.Build {
				return run.progress(part)
			}
		}
	}
	p.Phase, p.Head = PhaseReplaying, head
	p.Position, p.Target = eventstore.Position(cp), eventstore.Position(target) //nolint:gosec // non-negative
	if p.Purpose == purposeShadow || p.Target == 0 {
		p.Target = head
	}
	p.ElapsedSeconds = r.opts.Now().Sub(p.StartedAt).Seconds()
	if d := updated.Sub(p.StartedAt).Seconds(); d > 0 {
		p.EventsPerSecond = float64(cp) / d
	}
	if p.EventsPerSecond > 0 && p.Target > p.Position {
		p.ETASeconds = float64(p.Target-p.Position) / p.EventsPerSecond
	}
	return p
}

// fillLag sets the lag of a projection with a live build.
func (r *Runtime) fillLag(ctx context.Context, st *Status) error {
	if st.LiveBuild == "" || st.Position >= st.Head {
		return nil
	}
	st.LagEvents = uint64(st.Head - st.Position)
	at, ok, err := r.feed.recordedAfter(ctx, st.Position)
	if err != nil {
		return err
	}
	if ok {
		st.LagSeconds = max(0, r.opts.Now().Sub(at).Seconds())
	}
	return nil
}

// Ready is the projector role's readiness check: it fails while a projection is stalled as a
// whole (a registry state left by an older binary), has no live build, or lags by more than
// Options.ReadyMaxLag. Tenant stalls do not fail it: every other tenant is served, and the
// stalled tenants are listed in the operators' Status (StalledTenants).
func (r *Runtime) Ready(ctx context.Context) error {
	sts, err := r.List(ctx)
	if err != nil {
		return err
	}
	var problems []string
	for _, st := range sts {
		switch {
		case st.State == StateStalled:
			pos := eventstore.Position(0)
			if st.StalledPosition != nil {
				pos = *st.StalledPosition
			}
			problems = append(problems, fmt.Sprintf("%s stalled at position %d: %s", st.Name, pos, st.Error))
		case st.State == StateNew:
			problems = append(problems, st.Name+" has no live build yet")
		case st.LagSeconds > r.opts.ReadyMaxLag.Seconds():
			problems = append(problems, fmt.Sprintf("%s is %.1fs (%d events) behind the head, over %s",
				st.Name, st.LagSeconds, st.LagEvents, r.opts.ReadyMaxLag))
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}
