package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SetBeforeCommitHook runs f inside every append transaction after the rows are planned and
// before they are written, on the writer's connection. For tests only.
func SetBeforeCommitHook(s *Store, f func(ctx context.Context, conn *pgxpool.Conn) error) {
	s.hooks.beforeCommit = f
}

// LockKey exposes the advisory lock key appends serialize on.
func LockKey(s *Store) int64 { return s.lockKey }
