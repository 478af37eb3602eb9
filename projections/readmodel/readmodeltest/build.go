package readmodeltest

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/projections"
)

// Setup runs each projection's Setup, in its own transaction, in the schema the pool's
// search_path names: the tables of every read model side by side, as the query API sees its
// views.
func Setup(ctx context.Context, pool *pgxpool.Pool, projs []projections.Projection) error {
	for _, p := range projs {
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.Setup(ctx, tx) }); err != nil {
			return fmt.Errorf("setup %s: %w", p.Name(), err)
		}
	}
	return nil
}

// Apply folds evs into each projection in batches of at most batch events, one transaction
// per batch and projection, as the runtime does.
func Apply(ctx context.Context, pool *pgxpool.Pool, projs []projections.Projection, evs []projections.Event, batch int) error {
	for _, p := range projs {
		for from := 0; from < len(evs); from += batch {
			part := evs[from:min(from+batch, len(evs))]
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return p.Apply(ctx, tx, part) }); err != nil {
				return fmt.Errorf("apply %s to positions %d..%d: %w", p.Name(), part[0].Position, part[len(part)-1].Position, err)
			}
		}
	}
	return nil
}

// Rows runs query and returns each row as its columns' text joined by '|' (NULL as "∅"), so
// tests can compare read-model rows with literal expectations.
func Rows(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, query string, args ...any) ([]string, error) {
	rows, err := q.Query(ctx, query, append([]any{pgx.QueryExecModeSimpleProtocol}, args...)...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		n := len(rows.FieldDescriptions())
		vals := make([]pgtype.Text, n)
		ptrs := make([]any, n)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		cols := make([]string, n)
		for i, v := range vals {
			cols[i] = "∅"
			if v.Valid {
				cols[i] = v.String
			}
		}
		out = append(out, strings.Join(cols, "|"))
	}
	return out, rows.Err()
}

// Load fills projs as a rebuild does: each projection whose Tuning has a NewLoad through one
// Load (made by newLoad), batch events per transaction, then Flush; the others through Apply.
func Load(ctx context.Context, pool *pgxpool.Pool, projs []projections.Projection, evs []projections.Event, batch int,
	newLoad func(projections.Projection) projections.Load) error {
	for _, p := range projs {
		if p.Tuning().NewLoad == nil {
			if err := Apply(ctx, pool, []projections.Projection{p}, evs, batch); err != nil {
				return err
			}
			continue
		}
		l := newLoad(p)
		for from := 0; from < len(evs); from += batch {
			part := evs[from:min(from+batch, len(evs))]
			if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return l.Apply(ctx, tx, part) }); err != nil {
				return fmt.Errorf("load %s at positions %d..%d: %w", p.Name(), part[0].Position, part[len(part)-1].Position, err)
			}
		}
		if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return l.Flush(ctx, tx) }); err != nil {
			return fmt.Errorf("flush %s: %w", p.Name(), err)
		}
	}
	return nil
}
