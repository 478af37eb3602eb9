package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SynchronousCommitOf returns synchronous_commit as a statement run with async sees it.
func SynchronousCommitOf(ctx context.Context, pool *pgxpool.Pool, async bool) (string, error) {
	var s string
	err := queryRow(ctx, pool, async, []any{&s}, "SELECT current_setting('synchronous_commit')")
	return s, err
}
