package projections

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// State is where a projection's live processing stands.
type State string

// States. The registry stores running, catching_up, stalled and rebuilding; StateNew is
// reported for a projection no projector has built yet.
const (
	StateRunning    State = "running"
	StateCatchingUp State = "catching_up"
	StateStalled    State = "stalled"
	StateRebuilding State = "rebuilding"
	StateNew        State = "new"
)

// Build purposes and statuses (projection_builds.purpose, .status).
const (
	purposeLive   = "live"
	purposeShadow = "shadow"
	purposeAsOf   = "as_of"

	statusBuilding = "building"
	statusLive     = "live"
	statusRetired  = "retired"
	statusDone     = "done"
	statusFailed   = "failed"
)

// sqlText holds the runtime's statements, with the application schema's tables qualified:
// they run inside transactions whose search_path points at a build schema.
type sqlText struct {
	app, searchPath, channel string
	registry, builds, seq    string
	stalls                   string // projection_tenant_stalls
	readLive, advance        string
	// readLiveStalls is readLive with the tenants stalled in the live build (a live batch's
	// transaction reads both in one statement), which then sets the transaction's search_path
	// to $2 (see readLiveRow); advanceNotify is advance announcing the new checkpoint ($4
	// channel, $5 payload) in the same statement, when it moved.
	readLiveStalls, advanceNotify string
	// idleLock and idleAdvance move a partition's checkpoint over an idle batch (advanceIdle).
	idleLock, idleAdvance string
	// cp are the statements over the builds' checkpoint rows (feed_checkpoints, named by
	// buildConsumer).
	cp consumer.Table
	// checkpointOf joins a build b's checkpoint f: position (the lowest of its partitions'),
	// positions (each partition's, in order) and updated_at.
	checkpointOf string
}

// buildConsumer is the feed_checkpoints row of build's checkpoint.
func buildConsumer(build string) string { return "projections." + build }

func newSQLText(app, searchPath string) sqlText {
	s := sqlText{app: app, searchPath: searchPath, channel: notifyChannel(app),
		registry: qualified(app, "projection_registry"), builds: qualified(app, "projection_builds"),
		seq: qualified(app, "projection_build_seq"), stalls: qualified(app, "projection_tenant_stalls"), cp: consumer.TableIn(app)}
	s.checkpointOf = ` LEFT JOIN LATERAL (SELECT min(coalesce(c.position, 0)) AS position, max(c.updated_at) AS updated_at,
array_agg(coalesce(c.position, 0) ORDER BY c.consumer) AS positions FROM ` + qualified(app, "feed_checkpoints") + ` c WHERE ` + partRowsOf + `) f ON true`
	s.readLive = `SELECT r.state, r.live_build, b.version, coalesce(f.positions, '{}'), b.tables, b.partitions FROM ` + s.registry + ` r
JOIN ` + s.builds + ` b ON b.schema_name = r.live_build` + s.checkpointOf + ` WHERE r.name = $1`
	s.readLiveStalls = `SELECT r.state, r.live_build, b.version, coalesce(f.positions, '{}'), b.tables, b.partitions,
(SELECT array_agg(s.tenant) FROM ` + s.stalls + ` s WHERE s.build = r.live_build), set_config('search_path', $2, true) FROM ` + s.registry + ` r
JOIN ` + s.builds + ` b ON b.schema_name = r.live_build` + s.checkpointOf + ` WHERE r.name = $1`
	s.advance = s.cp.Advance
	// count(pg_notify(...)) runs the notification once per row the UPDATE moved: one, or none
	// (the caller then fails the transaction, and nothing is delivered either way).
	s.advanceNotify = `WITH a AS (` + s.cp.Advance + ` RETURNING 1) SELECT count(*), count(pg_notify($4, $5)) FROM a`
	s.idleStatements()
	return s
}

// liveBuild is a projection's registry row and live build, as read under its lock.
type liveBuild struct {
	state      State
	build      string
	version    int
	checkpoint eventstore.Position // the lowest of cps: every event up to it is applied
	tables     []string
	partitions int                   // the build's partitions (1: one checkpoint)
	cps        []eventstore.Position // each partition's checkpoint
	// stalls are the tenants stalled in the live build (nil: none), read with it when
	// stallsRead (readLiveStalls).
	stalls     map[string]bool
	stallsRead bool
}

// lockProjection takes the projection's transaction-scoped advisory lock: whoever holds it
// is the only one applying to the projection's live build (or swapping it). The live
// partitions' appliers hold it shared (beginPartLocked), so it waits for them and holds them
// off.
func lockProjection(ctx context.Context, tx pgx.Tx, e *entry) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, e.lockKey); err != nil {
		return fmt.Errorf("lock projection %s: %w", e.name, err)
	}
	return nil
}

// readLive reads the projection's registry row; found is false before its first build. It
// must run after lockProjection, in a statement of its own, so that its snapshot sees what
// the previous lock holder committed.
func (r *Runtime) readLive(ctx context.Context, q pgx.Tx, name string) (lb liveBuild, found bool, err error) {
	return r.readLiveRow(ctx, q, name, "")
}

// readLiveRow is readLive that, with a path, also reads the tenants stalled in the live build
// (lb.stalls) and then sets the transaction's search_path to path, in the same statement (the
// path is set only when the projection has a live build).
//
// The statements the runtime shares between builds (this one, the checkpoint's advance) run
// under the application's own search_path: PostgreSQL plans a prepared statement again, and
// analyses it again, whenever it runs under another search_path than the last time, and a
// pooled connection serves every projection's batches in turn. This statement is planned before
// it runs, so it is planned under the path the transaction began with; advance sets that path
// back before its own statements.
func (r *Runtime) readLiveRow(ctx context.Context, q pgx.Tx, name, path string) (lb liveBuild, found bool, err error) {
	if path != "" {
		return scanLiveRow(q.QueryRow(ctx, r.sqls.readLiveStalls, name, path), name, true)
	}
	return scanLiveRow(q.QueryRow(ctx, r.sqls.readLive, name), name, false)
}

// scanLiveRow reads the row of readLiveRow's statement (with the stalls and the search_path
// set, or without).
func scanLiveRow(row pgx.Row, name string, withStalls bool) (lb liveBuild, found bool, err error) {
	var cps []int64
	if withStalls {
		var stalls []string
		var set string
		err = row.Scan(&lb.state, &lb.build, &lb.version, &cps, &lb.tables, &lb.partitions, &stalls, &set)
		for _, t := range stalls {
			if lb.stalls == nil {
				lb.stalls = map[string]bool{}
			}
			lb.stalls[t] = true
		}
		lb.stallsRead = err == nil
	} else {
		err = row.Scan(&lb.state, &lb.build, &lb.version, &cps, &lb.tables, &lb.partitions)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return lb, false, nil
	}
	if err != nil {
		return lb, false, fmt.Errorf("read registry of %s: %w", name, err)
	}
	if len(cps) == 0 && lb.partitions == 1 {
		cps = []int64{0} // no row yet: nothing applied
	}
	if len(cps) != lb.partitions {
		return lb, false, fmt.Errorf("invariant: live build %s of %s has %d partitions but %d checkpoint rows", lb.build, name, lb.partitions, len(cps))
	}
	lb.cps = make([]eventstore.Position, len(cps))
	for k, cp := range cps {
		lb.cps[k] = eventstore.Position(cp) //nolint:gosec // checked non-negative by the table
	}
	lb.checkpoint = slices.Min(lb.cps)
	return lb, true, nil
}

// beginLocked begins a transaction holding e's lock and reads its live build.
func (r *Runtime) beginLocked(ctx context.Context, e *entry) (pgx.Tx, liveBuild, bool, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return nil, liveBuild{}, false, fmt.Errorf("begin: %w", err)
	}
	if err := lockProjection(ctx, tx, e); err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, liveBuild{}, false, err
	}
	lb, found, err := r.readLive(ctx, tx, e.name)
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, liveBuild{}, false, err
	}
	return tx, lb, found, nil
}

// setState moves the projection to state to, only from one of the states from.
func (r *Runtime) setState(ctx context.Context, name string, to State, from ...State) error {
	return r.setStateTx(ctx, r.pool, name, to, from...)
}

func (r *Runtime) setStateTx(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, name string, to State, from ...State) error {
	fs := make([]string, len(from))
	for i, f := range from {
		fs[i] = string(f)
	}
	_, err := q.Exec(ctx, `UPDATE `+r.sqls.registry+` SET state = $2, updated_at = now() WHERE name = $1 AND state = ANY($3)`,
		name, string(to), fs)
	if err != nil {
		return fmt.Errorf("set state of %s: %w", name, err)
	}
	return nil
}
