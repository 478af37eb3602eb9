package projections

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/sync/errgroup"

	"github.com/dotmac/ledger/eventstore"
)

// buildSpec says what build to create.
type buildSpec struct {
	purpose string
	schema  string               // empty: a new <app>__<name>_b<n>
	target  *eventstore.Position // as-of builds stop here
	// partitions the build's events are split into once live (0: one)
	partitions int
}

// createBuild creates a build schema, runs Setup in it and records the build, inside tx.
func (r *Runtime) createBuild(ctx context.Context, tx pgx.Tx, e *entry, spec buildSpec) (string, error) {
	schema := spec.schema
	if schema == "" {
		var n int64
		if err := tx.QueryRow(ctx, `SELECT nextval('`+r.sqls.seq+`')`).Scan(&n); err != nil {
			return "", fmt.Errorf("number a build of %s: %w", e.name, err)
		}
		schema = buildSchemaName(r.app, e.name, n)
	}
	// An analyst may have dropped an earlier copy of that name: forget its record.
	if _, err := tx.Exec(ctx, `DELETE FROM `+r.sqls.builds+` WHERE schema_name = $1 AND status IN ('done', 'failed')
AND NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, schema); err != nil {
		return "", fmt.Errorf("forget dropped build %s: %w", schema, err)
	}
	if _, err := tx.Exec(ctx, `CREATE SCHEMA `+ident(schema)); err != nil {
		return "", fmt.Errorf("create build schema %s: %w", schema, err)
	}
	if err := r.setup(ctx, tx, e, schema); err != nil {
		return "", err
	}
	if spec.purpose == purposeLive {
		if err := r.createIndexes(ctx, tx, e, schema); err != nil {
			return "", err
		}
	}
	status := statusBuilding
	if spec.purpose == purposeLive {
		status = statusLive
	}
	var target *int64
	if spec.target != nil {
		t := int64(*spec.target) //nolint:gosec // positions fit
		target = &t
	}
	_, err := tx.Exec(ctx, `INSERT INTO `+r.sqls.builds+` (schema_name, projection, version, purpose, status, tables, target_position, partitions)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, schema, e.name, e.p.Version(), spec.purpose, status, e.tables, target, max(spec.partitions, 1))
	if err != nil {
		return "", fmt.Errorf("record build %s: %w", schema, err)
	}
	// The build's checkpoint, at 0 (a copy of a reused name starts over).
	b := &pgx.Batch{}
	b.Queue(r.sqls.cp.Ensure, buildConsumer(schema))
	b.Queue(r.sqls.cp.Reset, buildConsumer(schema), 0, nil)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return "", fmt.Errorf("record the checkpoint of build %s: %w", schema, err)
	}
	return schema, nil
}

// setup runs the projection's Setup with search_path set to the build schema, then checks
// that every table in Tables() exists there.
func (r *Runtime) setup(ctx context.Context, tx pgx.Tx, e *entry, schema string) error {
	if err := setSearchPath(ctx, tx, ident(schema)); err != nil {
		return err
	}
	if err := e.p.Setup(ctx, tx); err != nil {
		return fmt.Errorf("projection %s: setup in %s: %w", e.name, schema, err)
	}
	if err := setSearchPath(ctx, tx, r.sqls.searchPath); err != nil {
		return err
	}
	for _, t := range e.tables {
		var ok bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, qualified(schema, t)).Scan(&ok); err != nil {
			return fmt.Errorf("projection %s: check table %s: %w", e.name, t, err)
		}
		if !ok {
			return fmt.Errorf("projection %s: Setup did not create table %q, which Tables() lists", e.name, t)
		}
	}
	return nil
}

// createIndexes runs the projection's deferred index statements (Tuning.DeferredIndexes) in
// schema.
func (r *Runtime) createIndexes(ctx context.Context, tx pgx.Tx, e *entry, schema string) error {
	if len(e.tuning.DeferredIndexes) == 0 {
		return nil
	}
	if err := setSearchPath(ctx, tx, ident(schema)); err != nil {
		return err
	}
	for _, stmt := range e.tuning.DeferredIndexes {
		if err := execIndex(ctx, tx, e, schema, stmt); err != nil {
			return err
		}
	}
	return setSearchPath(ctx, tx, r.sqls.searchPath)
}

// execIndex runs one of e's index statements in schema (tx's search_path).
func execIndex(ctx context.Context, tx pgx.Tx, e *entry, schema, stmt string) error {
	if _, err := tx.Exec(ctx, stmt); err != nil {
		return fmt.Errorf("projection %s: index in %s: %w", e.name, schema, err)
	}
	return nil
}

// indexBuilds runs the deferred index statements of filled builds (parts), each statement in
// its own transaction, as many at a time as there are CPUs (at least two): PostgreSQL builds
// each index in one backend, so one at a time left a core idle.
func (r *Runtime) indexBuilds(ctx context.Context, parts []*buildPart) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.GOMAXPROCS(0)))
	for _, p := range parts {
		for _, stmt := range p.e.tuning.DeferredIndexes {
			g.Go(func() error {
				return pgx.BeginFunc(ctx, r.pool, func(tx pgx.Tx) error {
					// An index build sorts in maintenance_work_mem; the default 64 MB spills large ones.
					if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '256MB'`); err != nil {
						return err
					}
					if err := setSearchPath(ctx, tx, ident(p.build)); err != nil {
						return err
					}
					return execIndex(ctx, tx, p.e, p.build, stmt)
				})
			})
		}
	}
	return g.Wait()
}

func setSearchPath(ctx context.Context, tx pgx.Tx, path string) error {
	if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, path); err != nil {
		return fmt.Errorf("set search_path: %w", err)
	}
	return nil
}

// pointViews makes the application schema's views of e's tables select from build, and drops
// the views of tables an older version had (old) that this one does not. A view whose
// columns changed incompatibly is dropped and created again, in the same transaction.
func (r *Runtime) pointViews(ctx context.Context, tx pgx.Tx, e *entry, build string, old []string) error {
	for _, t := range e.tables {
		view, src := qualified(r.app, t), qualified(build, t)
		err := savepoint(ctx, tx, `CREATE OR REPLACE VIEW `+view+` AS SELECT * FROM `+src)
		if err == nil {
			continue
		}
		if _, err := tx.Exec(ctx, `DROP VIEW IF EXISTS `+view); err != nil {
			return fmt.Errorf("projection %s: replace view %s: %w", e.name, t, err)
		}
		if _, err := tx.Exec(ctx, `CREATE VIEW `+view+` AS SELECT * FROM `+src); err != nil {
			return fmt.Errorf("projection %s: create view %s: %w", e.name, t, err)
		}
	}
	for _, t := range old {
		if slices.Contains(e.tables, t) {
			continue
		}
		if _, err := tx.Exec(ctx, `DROP VIEW IF EXISTS `+qualified(r.app, t)); err != nil {
			return fmt.Errorf("projection %s: drop view %s: %w", e.name, t, err)
		}
	}
	return nil
}

// savepoint runs sql in a savepoint, so that its failure leaves tx usable.
func savepoint(ctx context.Context, tx pgx.Tx, sql string) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := sp.Exec(ctx, sql); err != nil {
		_ = sp.Rollback(ctx)
		return err
	}
	return sp.Commit(ctx)
}

// prepare makes sure e has a live build (creating the first one, with its views) and resumes
// it if it was stalled. It reports whether the live build's version differs from e's.
func (r *Runtime) prepare(ctx context.Context, e *entry) (versionChanged bool, err error) {
	tx, lb, found, err := r.beginLocked(ctx, e)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	switch {
	case !found:
		if err := r.createFirstBuild(ctx, tx, e); err != nil {
			return false, err
		}
	case lb.state == StateCatchingUp:
		// Left by a process that died catching up; this one catches up itself if it must.
		if err := r.setStateTx(ctx, tx, e.name, StateRunning, StateCatchingUp); err != nil {
			return false, err
		}
	case lb.state == StateStalled:
		r.log.Warn().Str("projection", e.name).Msg("projections: resuming a stalled projection from its checkpoint")
		_, err := tx.Exec(ctx, `UPDATE `+r.sqls.registry+` SET state = 'running', last_error = NULL, stalled_position = NULL,
stalled_at = NULL, updated_at = now() WHERE name = $1`, e.name)
		if err != nil {
			return false, fmt.Errorf("resume %s: %w", e.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("prepare %s: %w", e.name, err)
	}
	if err := r.cleanup(ctx, e); err != nil {
		r.log.Warn().Err(err).Str("projection", e.name).Msg("projections: cleaning up old builds failed")
	}
	return found && lb.version != e.p.Version(), nil
}

func (r *Runtime) createFirstBuild(ctx context.Context, tx pgx.Tx, e *entry) error {
	n, err := r.partitionsFor(ctx, e)
	if err != nil {
		return err
	}
	build, err := r.createBuild(ctx, tx, e, buildSpec{purpose: purposeLive, partitions: n})
	if err != nil {
		return err
	}
	if err := r.splitCheckpoint(ctx, tx, build, n); err != nil {
		return err
	}
	if err := r.pointViews(ctx, tx, e, build, nil); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO `+r.sqls.registry+` (name, version, live_build, state) VALUES ($1, $2, $3, 'running')`,
		e.name, e.p.Version(), build)
	if err != nil {
		return fmt.Errorf("register %s: %w", e.name, err)
	}
	r.log.Info().Str("projection", e.name).Str("build", build).Int("version", e.p.Version()).Int("partitions", n).Msg("projections: first build created")
	return nil
}

// cleanup drops what dead processes left behind, if no rebuild of e runs anywhere: shadow
// and as-of builds still "building" whose builder is gone, builds retired by a swap whose
// schema could not be dropped then, and a "rebuilding" state no rebuild backs.
func (r *Runtime) cleanup(ctx context.Context, e *entry) error {
	g, err := r.acquireGuard(ctx, e.rebuildKey)
	if errors.Is(err, ErrRebuildInProgress) {
		return nil
	}
	if err != nil {
		return err
	}
	defer g.release()
	rows, err := r.pool.Query(ctx, `SELECT schema_name, status FROM `+r.sqls.builds+`
WHERE projection = $1 AND (status = 'retired' OR (status = 'building' AND purpose <> 'live'))`, e.name)
	if err != nil {
		return err
	}
	stale, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct{ Schema, Status string }])
	if err != nil {
		return err
	}
	for _, b := range stale {
		if b.Status == statusBuilding && !g.tryLock(ctx, lockKey(r.app, "build", b.Schema)) {
			continue // an as-of copy another process is still filling
		}
		if err := r.dropBuild(ctx, b.Schema); err != nil {
			return err
		}
	}
	if err := r.forgetOrphanCheckpoints(ctx); err != nil {
		return err
	}
	return r.setState(ctx, e.name, StateRunning, StateRebuilding)
}

// forgetOrphanCheckpoints deletes the checkpoint rows of builds that are gone: a standby
// projector may take the lease of a build swapped out and dropped meanwhile, which writes its
// row again. (A build's row and its checkpoint's are created in one transaction, so a build
// being created is never taken for gone.)
func (r *Runtime) forgetOrphanCheckpoints(ctx context.Context) error {
	_, err := r.pool.Exec(ctx, `DELETE FROM `+qualified(r.app, "feed_checkpoints")+` f WHERE starts_with(f.consumer, 'projections.')
AND NOT EXISTS (SELECT 1 FROM `+r.sqls.builds+` b WHERE f.consumer = 'projections.' || b.schema_name
    OR starts_with(f.consumer, 'projections.' || b.schema_name || '/p'))`)
	if err != nil {
		return fmt.Errorf("forget the checkpoints of dropped builds: %w", err)
	}
	return nil
}

// dropBuild drops a build's schema and forgets the build. It waits at most dropLockTimeout
// for readers of the schema; on timeout the build stays (retired) for the next cleanup.
func (r *Runtime) dropBuild(ctx context.Context, schema string) error {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `SET LOCAL lock_timeout = '`+dropLockTimeout.String()+`'`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `DROP SCHEMA IF EXISTS `+ident(schema)+` CASCADE`); err != nil {
		return fmt.Errorf("drop build %s: %w", schema, err)
	}
	tag, err := tx.Exec(ctx, `DELETE FROM `+r.sqls.builds+` WHERE schema_name = $1 AND status <> 'live'`, schema)
	if err != nil {
		return fmt.Errorf("forget build %s: %w", schema, err)
	}
	if tag.RowsAffected() > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM `+qualified(r.app, "feed_checkpoints")+` WHERE consumer = $1 OR starts_with(consumer, $1 || '/p')`,
			buildConsumer(schema)); err != nil {
			return fmt.Errorf("forget the checkpoints of build %s: %w", schema, err)
		}
	}
	return tx.Commit(ctx)
}

// resetBuild empties a build nobody reads yet (a shadow build, a copy being filled): its schema
// is created afresh with Setup, its checkpoint goes back to 0 and its tenant stalls are
// forgotten.
func (r *Runtime) resetBuild(ctx context.Context, e *entry, build string) error {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	if _, err := tx.Exec(ctx, `DROP SCHEMA `+ident(build)+` CASCADE; CREATE SCHEMA `+ident(build)); err != nil {
		return fmt.Errorf("reset build %s: %w", build, err)
	}
	if err := r.setup(ctx, tx, e, build); err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(r.sqls.cp.Reset, buildConsumer(build), 0, nil)
	b.Queue(`DELETE FROM `+r.sqls.stalls+` WHERE build = $1`, build)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("reset build %s: %w", build, err)
	}
	return tx.Commit(ctx)
}

// dropLockTimeout bounds how long dropping a retired build waits for its last readers.
const dropLockTimeout = 5 * time.Second
