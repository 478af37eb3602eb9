// Package migrate applies the SQL migrations each component embeds (the event store, the
// command side, the read models) with goose, one version table per component, under a
// PostgreSQL advisory lock so that several processes starting at once migrate exactly once.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Set is one component's migrations.
type Set struct {
	// Name identifies the component in status output, for example "eventstore".
	Name string
	// FS holds goose-style SQL files (00001_name.sql) at its root.
	FS fs.FS
	// Table is the component's goose version table, for example "es_schema_migrations".
	Table string
	// Requires are the sets whose tables this set's migrations use (for example the feed
	// consumers' checkpoint table, into which a set moves its own checkpoints): Up applies
	// them first.
	Requires []Set
	// AppendOnly names the set's tables that the runtime role may only SELECT and INSERT
	// (Setup; docs/database-roles.md): the event log. Every other table of the set it may
	// also UPDATE and DELETE.
	AppendOnly []string
}

// Embedded returns the set whose SQL files a component embeds under migrations/ (with
// //go:embed migrations/*.sql).
func Embedded(name, table string, files fs.FS) Set {
	sub, err := fs.Sub(files, "migrations")
	if err != nil {
		panic("invariant: embedded migrations missing: " + err.Error())
	}
	return Set{Name: name, FS: sub, Table: table}
}

// Status is the state of one migration of one set.
type Status struct {
	Set     string
	Version int64
	Name    string
	Applied bool
}

// Up applies every pending migration of every set and of the sets they require, each set
// after those it requires, otherwise in order; a set named twice is applied once.
func Up(ctx context.Context, pool *pgxpool.Pool, sets ...Set) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	for _, s := range ordered(sets) {
		p, err := provider(ctx, db, s)
		if err != nil {
			return err
		}
		if _, err := p.Up(ctx); err != nil {
			return fmt.Errorf("migrate %s up: %w", s.Name, err)
		}
	}
	return nil
}

// StatusOf lists every migration of every set and whether it is applied.
func StatusOf(ctx context.Context, pool *pgxpool.Pool, sets ...Set) ([]Status, error) {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	var out []Status
	for _, s := range ordered(sets) {
		p, err := provider(ctx, db, s)
		if err != nil {
			return nil, err
		}
		st, err := p.Status(ctx)
		if err != nil {
			return nil, fmt.Errorf("migrate %s status: %w", s.Name, err)
		}
		for _, m := range st {
			out = append(out, Status{Set: s.Name, Version: m.Source.Version, Name: m.Source.Path,
				Applied: m.State == goose.StateApplied})
		}
	}
	return out, nil
}

// UpTo applies set's pending migrations up to and including version, and not the sets it
// requires: tests build an earlier schema with it to test an upgrade.
func UpTo(ctx context.Context, pool *pgxpool.Pool, set Set, version int64) error {
	db := stdlib.OpenDBFromPool(pool)
	defer db.Close()
	p, err := provider(ctx, db, set)
	if err != nil {
		return err
	}
	if _, err := p.UpTo(ctx, version); err != nil {
		return fmt.Errorf("migrate %s up to %d: %w", set.Name, version, err)
	}
	return nil
}

// ordered lists sets and the sets they require, each after those it requires, by name once.
func ordered(sets []Set) []Set {
	seen := map[string]bool{}
	var out []Set
	var visit func(s Set)
	visit = func(s Set) {
		if seen[s.Name] {
			return
		}
		seen[s.Name] = true
		for _, r := range s.Requires {
			visit(r)
		}
		out = append(out, s)
	}
	for _, s := range sets {
		visit(s)
	}
	return out
}

func provider(ctx context.Context, db *sql.DB, s Set) (*goose.Provider, error) {
	if s.Name == "" || s.Table == "" || s.FS == nil {
		return nil, errors.New("invariant: migrate.Set needs Name, Table and FS")
	}
	key, err := lockKey(ctx, db, s.Table)
	if err != nil {
		return nil, err
	}
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(key))
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, s.FS,
		goose.WithTableName(s.Table), goose.WithSessionLocker(locker), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	return p, nil
}

// lockKey derives the advisory lock id from the current schema and the version table, so
// that tests migrating their own schemas in parallel do not wait for each other.
func lockKey(ctx context.Context, db *sql.DB, table string) (int64, error) {
	var schema string
	if err := db.QueryRowContext(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return 0, fmt.Errorf("migrate: read current schema: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte("dotmac.migrate\x00" + schema + "\x00" + table))
	return int64(h.Sum64() >> 1), nil //nolint:gosec // shifted into int64 range on purpose
}
