package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultMaxCopies is how many as-of copies may exist at once unless Options.MaxCopies says
// otherwise.
const DefaultMaxCopies = 10

// Errors of the copy catalog.
var (
	// ErrTooManyCopies: as many as-of copies as the cap allows exist; drop one first.
	ErrTooManyCopies = errors.New("too many as-of copies")
	// ErrUnknownCopy: no as-of copy has that name (the schema may exist, but the copy
	// catalog does not know it, so it is not a copy and is never dropped as one).
	ErrUnknownCopy = errors.New("no such as-of copy")
)

// Copy is one as-of copy in the catalog (projection_copies).
type Copy struct {
	// Name is the copy's schema.
	Name       string `json:"name"`
	Projection string `json:"projection"`
	// AsOf is the point in history asked for, as given; Target the position it stands for.
	AsOf   string              `json:"as_of"`
	Target eventstore.Position `json:"target_position"`
	// CreatedBy is who asked: an operator token's subject, or cli:<user>.
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// Status is building, done or failed, or missing when the schema was dropped by other
	// means than drop-copy (drop the copy to forget it).
	Status string `json:"status"`
	// Rows is PostgreSQL's estimate of the rows of the copy's tables (exact right after the
	// copy, which analyzes them); Bytes their size on disk, indexes included.
	Rows  int64 `json:"rows"`
	Bytes int64 `json:"bytes"`
}

// maxCopies is the cap on as-of copies.
func (r *Runtime) maxCopies() int {
	if r.opts.MaxCopies <= 0 {
		return DefaultMaxCopies
	}
	return r.opts.MaxCopies
}

// reserveCopy, inside the transaction that creates copy build e, refuses it when the cap is
// reached; the table lock serializes concurrent copies, so the cap holds across processes.
func (r *Runtime) reserveCopy(ctx context.Context, tx pgx.Tx) error {
	if _, err := tx.Exec(ctx, `LOCK TABLE `+r.copiesTable()+` IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return fmt.Errorf("lock the copy catalog: %w", err)
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+r.copiesTable()).Scan(&n); err != nil {
		return fmt.Errorf("count the as-of copies: %w", err)
	}
	if limit := r.maxCopies(); n >= limit {
		return fmt.Errorf("%w: %d exist and the cap (--max-copies, DOTMAC_MAX_ASOF_COPIES) is %d: drop one first "+
			"(dotmac projections copies lists them; dotmac projections drop-copy NAME, or DELETE /v1/projection-copies/{name}, drops one)",
			ErrTooManyCopies, n, limit)
	}
	return nil
}

// catalogCopy records copy build schema of e in the catalog, inside its creating transaction.
func (r *Runtime) catalogCopy(ctx context.Context, tx pgx.Tx, e *entry, schema, asOf string, target eventstore.Position, by string) error {
	_, err := tx.Exec(ctx, `INSERT INTO `+r.copiesTable()+` (schema_name, projection, as_of, target_position, created_by)
VALUES ($1, $2, $3, $4, $5)`, schema, e.name, asOf, int64(target), cmp.Or(by, "unknown")) //nolint:gosec // positions fit
	if err != nil {
		return fmt.Errorf("record copy %s in the catalog: %w", schema, err)
	}
	return nil
}

// analyzeBuild gathers the statistics of a filled build's tables, a rebuild's before it is
// swapped in or an as-of copy's: the queries over it get good plans, and Copies' row counts
// are right.
func (r *Runtime) analyzeBuild(ctx context.Context, e *entry, schema string) error {
	for _, t := range e.tables {
		if _, err := r.pool.Exec(ctx, `ANALYZE `+qualified(schema, t)); err != nil {
			return fmt.Errorf("analyze build %s: %w", schema, err)
		}
	}
	return nil
}

func (r *Runtime) copiesTable() string { return qualified(r.app, "projection_copies") }

// Copies lists the as-of copies in the catalog, oldest first.
func (r *Runtime) Copies(ctx context.Context) ([]Copy, error) {
	rows, err := r.pool.Query(ctx, `SELECT c.schema_name, c.projection, c.as_of, c.target_position, c.created_by, c.created_at,
CASE WHEN n.oid IS NULL THEN 'missing' ELSE b.status END,
coalesce((SELECT sum(greatest(cl.reltuples, 0))::bigint FROM pg_class cl WHERE cl.relnamespace = n.oid AND cl.relkind IN ('r', 'p')), 0),
coalesce((SELECT sum(pg_total_relation_size(cl.oid))::bigint FROM pg_class cl WHERE cl.relnamespace = n.oid AND cl.relkind IN ('r', 'p')), 0)
FROM `+r.copiesTable()+` c JOIN `+r.sqls.builds+` b ON b.schema_name = c.schema_name
LEFT JOIN pg_namespace n ON n.nspname = c.schema_name
ORDER BY c.created_at, c.schema_name`)
	if err != nil {
		return nil, fmt.Errorf("list the as-of copies: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (Copy, error) {
		var c Copy
		var target int64
		err := row.Scan(&c.Name, &c.Projection, &c.AsOf, &target, &c.CreatedBy, &c.CreatedAt, &c.Status, &c.Rows, &c.Bytes)
		c.Target = eventstore.Position(target) //nolint:gosec // non-negative
		return c, err
	})
	if err != nil {
		return nil, fmt.Errorf("list the as-of copies: %w", err)
	}
	return out, nil
}

// DropCopy drops the as-of copy name: its schema, its build record, its checkpoint and its
// catalog row. A name the catalog does not know is refused with ErrUnknownCopy, whatever
// schema it names (only copies are dropped); a copy still being filled with
// ErrRebuildInProgress.
func (r *Runtime) DropCopy(ctx context.Context, name string) error {
	unknown := fmt.Errorf("%w: %q is not an as-of copy (dotmac projections copies lists them); only copies can be dropped", ErrUnknownCopy, name)
	if !ValidSchemaName(name) {
		return unknown
	}
	g, err := r.acquireGuard(ctx, lockKey(r.app, "build", name))
	if errors.Is(err, ErrRebuildInProgress) {
		return fmt.Errorf("%w: copy %s is being filled; drop it when it is done", ErrRebuildInProgress, name)
	}
	if err != nil {
		return err
	}
	defer g.release()
	var known bool
	if err := r.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+r.copiesTable()+` WHERE schema_name = $1)`, name).Scan(&known); err != nil {
		return fmt.Errorf("look up copy %s: %w", name, err)
	}
	if !known {
		return unknown
	}
	if err := r.dropBuild(ctx, name); err != nil {
		return err
	}
	r.log.Info().Str("copy", name).Msg("projections: as-of copy dropped")
	return nil
}
