package migrate

import (
	"context"
	"errors"
	"fmt"
	"io/fs"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/pressly/goose/v3"
)

// BehindError says that the schema lacks migrations this binary has and that the connected
// role may not apply them: the roles are separated (Setup) and it is not the owner.
type BehindError struct {
	Role    string // the connected role
	Owner   string // the role that owns the version tables
	Pending int    // migrations not applied
}

func (e *BehindError) Error() string {
	return fmt.Sprintf("the database schema lacks %d migration(s) of this binary, and role %q may not apply them (the schema "+
		"belongs to %q): run `dotmac migrate up` as the owner role (DOTMAC_MIGRATE_DATABASE_URL; see docs/database-roles.md), "+
		"then start again", e.Pending, e.Role, e.Owner)
}

// EnsureCurrent returns at once, writing nothing, when every migration of sets is applied
// (the server's role needs nothing but SELECT on the version tables for that). Otherwise it
// applies them with Up if the connected role may (it owns every existing version table, or
// is a member of their owner, as in a one-role install or in tests), and returns a
// *BehindError if not.
func EnsureCurrent(ctx context.Context, pool *pgxpool.Pool, sets ...Set) error {
	var e BehindError
	if err := pool.QueryRow(ctx, `SELECT current_user::text`).Scan(&e.Role); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	mayMigrate := true
	for _, s := range ordered(sets) {
		n, owner, member, err := pendingOf(ctx, pool, s)
		if err != nil {
			return err
		}
		e.Pending += n
		// Any version table of another role's marks the roles as separated: a set added
		// since (no version table yet) is the owner's to create too.
		if owner != "" && !member {
			mayMigrate, e.Owner = false, owner
		}
	}
	switch {
	case e.Pending == 0:
		return nil
	case !mayMigrate:
		return &e
	}
	return Up(ctx, pool, sets...)
}

// pendingOf counts s's migrations that are not applied, and says who owns s's version table
// ("" when there is none yet) and whether the connected role is a member of that owner.
func pendingOf(ctx context.Context, pool *pgxpool.Pool, s Set) (pending int, owner string, member bool, err error) {
	versions, err := versionsOf(s)
	if err != nil {
		return 0, "", false, err
	}
	err = pool.QueryRow(ctx, `SELECT c.relowner::regrole::text, pg_has_role(c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass($1)`,
		s.Table).Scan(&owner, &member)
	if errors.Is(err, pgx.ErrNoRows) {
		return len(versions), "", false, nil
	}
	if err != nil {
		return 0, "", false, fmt.Errorf("migrate %s: look up %s: %w", s.Name, s.Table, err)
	}
	rows, err := pool.Query(ctx, `SELECT version_id FROM `+ident(s.Table))
	if err != nil {
		return 0, "", false, fmt.Errorf("migrate %s: read %s: %w", s.Name, s.Table, err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return 0, "", false, fmt.Errorf("migrate %s: read %s: %w", s.Name, s.Table, err)
	}
	done := map[int64]bool{}
	for _, v := range applied {
		done[v] = true
	}
	for _, v := range versions {
		if !done[v] {
			pending++
		}
	}
	return pending, owner, member, nil
}

// versionsOf lists the versions of s's SQL files.
func versionsOf(s Set) ([]int64, error) {
	if s.FS == nil {
		return nil, fmt.Errorf("invariant: migrate.Set %s has no FS", s.Name)
	}
	names, err := fs.Glob(s.FS, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("migrate %s: %w", s.Name, err)
	}
	out := make([]int64, 0, len(names))
	for _, n := range names {
		v, err := goose.NumericComponent(n)
		if err != nil {
			return nil, fmt.Errorf("migrate %s: %s: %w", s.Name, n, err)
		}
		out = append(out, v)
	}
	return out, nil
}
