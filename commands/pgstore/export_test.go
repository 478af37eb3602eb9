package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"
)

// SynchronousCommitOf returns synchronous_commit as a statement run with async sees it.
func SynchronousCommitOf(ctx context.Context, pool *pgxpool.Pool, async bool) (string, error) {
	return SettingOf(ctx, pool, async, false, "synchronous_commit")
}

// SettingOf returns the setting name as a statement run with async and generic sees it.
func SettingOf(ctx context.Context, pool *pgxpool.Pool, async, generic bool, name string) (string, error) {
	var s string
	err := queryRow(ctx, pool, settings{async: async, generic: generic}, []any{&s}, "SELECT current_setting($1)", name)
	return s, err
}
