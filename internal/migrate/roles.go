package migrate

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Roles names the two database roles of a least-privilege install (docs/database-roles.md).
//
// Owner owns the application schema and every table, sequence and function the migrations
// create, and runs the migrations. Runtime is the role the server connects as: it may SELECT
// and INSERT the append-only tables (Set.AppendOnly: the event log) and nothing more on them,
// only SELECT the migration version tables, SELECT, INSERT, UPDATE and DELETE the other tables,
// and CREATE in the database and the application schema, for the projections' build schemas
// and the views that point at them (which it then owns). It never owns a table a migration
// created, so it cannot ALTER, disable a trigger of, TRUNCATE or DROP the event log.
type Roles struct {
	Owner   string
	Runtime string
	// OwnerPassword and RuntimePassword, when not empty, become the roles' passwords (set on
	// every Setup, so changing one rotates it); empty creates a role without one (trust or
	// peer authentication) and leaves an existing role's password alone.
	OwnerPassword   string
	RuntimePassword string
}

// Validate reports a missing or shared role name.
func (r Roles) Validate() error {
	switch {
	case r.Owner == "" || r.Runtime == "":
		return errors.New("database roles: both the owner and the runtime role need a name")
	case r.Owner == r.Runtime:
		return fmt.Errorf("database roles: the owner and the runtime role are both %q; least privilege needs two roles", r.Owner)
	}
	return nil
}

// Setup makes the database least-privilege and current, on a connection of admin (a
// superuser, or a role that may create roles and act as both, or the owner role itself when
// both roles exist): it creates the roles if missing, gives the application schema (the
// admin's current schema) and every object the migrations created to the owner, and the
// projections' views and build schemas to the runtime role (moving them from an earlier
// layout in which one role owned everything), applies every pending migration of sets as the
// owner, then grants the runtime role exactly what it needs, with default privileges for the
// tables later migrations create. It is idempotent, and several processes may run it at once.
func Setup(ctx context.Context, admin *pgxpool.Pool, r Roles, sets ...Set) error {
	if err := r.Validate(); err != nil {
		return err
	}
	conn, err := admin.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	defer conn.Release()
	var sc scope
	if err := conn.QueryRow(ctx, `SELECT current_schema(), current_database(), current_user::text`).Scan(&sc.schema, &sc.db, &sc.user); err != nil {
		return fmt.Errorf("database roles: read the current schema: %w", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, sc.lockKey()); err != nil {
		return fmt.Errorf("database roles: lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, sc.lockKey())
	}()
	if err := prepareRoles(ctx, conn.Conn(), sc, r); err != nil {
		return err
	}
	if err := takeOwnership(ctx, conn.Conn(), sc, r); err != nil {
		return err
	}
	if err := upAsOwner(ctx, admin, sc, r, sets); err != nil {
		return err
	}
	return grant(ctx, conn.Conn(), sc, r, sets)
}

// scope is where Setup works: the admin's current schema and database, and who the admin is.
type scope struct {
	schema, db, user string
}

// lockKey serializes the set-ups of one schema.
func (s scope) lockKey() int64 { return advisoryKey("dotmac.roles\x00" + s.db + "\x00" + s.schema) }

// databaseLockKey serializes the database-wide grants of the set-ups of all its schemas.
func (s scope) databaseLockKey() int64 { return advisoryKey("dotmac.roles.database\x00" + s.db) }

func advisoryKey(name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(name))
	return int64(h.Sum64() >> 1) //nolint:gosec // shifted into int64 range on purpose
}

// SQLSTATE codes Setup reacts to.
const (
	codeDuplicateObject = "42710" // CREATE ROLE lost a race
	codeUniqueViolation = "23505" // the same race, lost at pg_authid's unique index
)

// prepareRoles creates missing roles, sets given passwords, refuses a runtime role that could
// lift its own limits, and makes sure the admin may act as the owner.
func prepareRoles(ctx context.Context, conn *pgx.Conn, sc scope, r Roles) error {
	for _, role := range []struct{ name, password string }{{r.Owner, r.OwnerPassword}, {r.Runtime, r.RuntimePassword}} {
		if err := ensureRole(ctx, conn, role.name, role.password); err != nil {
			return err
		}
	}
	var super, createRole, bypassRLS, member bool
	err := conn.QueryRow(ctx, `SELECT rolsuper, rolcreaterole, rolbypassrls, pg_has_role($1, $2, 'MEMBER')
FROM pg_roles WHERE rolname = $1`, r.Runtime, r.Owner).Scan(&super, &createRole, &bypassRLS, &member)
	if err != nil {
		return fmt.Errorf("database roles: inspect %s: %w", r.Runtime, err)
	}
	if super || createRole || bypassRLS || member {
		return fmt.Errorf("database roles: the runtime role %q is a superuser, may create roles, bypasses row security or is a member of %q: "+
			"it could lift its own limits; run ALTER ROLE %s NOSUPERUSER NOCREATEROLE NOBYPASSRLS and REVOKE %s FROM %s, or name another runtime role",
			r.Runtime, r.Owner, ident(r.Runtime), ident(r.Owner), ident(r.Runtime))
	}
	if sc.user == r.Owner {
		return nil
	}
	var canSet bool
	if err := conn.QueryRow(ctx, `SELECT pg_has_role($1, 'USAGE')`, r.Owner).Scan(&canSet); err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	if canSet {
		return nil
	}
	if _, err := conn.Exec(ctx, `GRANT `+ident(r.Owner)+` TO CURRENT_USER`); err != nil {
		return fmt.Errorf("database roles: %s may not act as the owner role %s (run dotmac migrate as a superuser, "+
			"as the owner role, or as a member of it): %w", sc.user, r.Owner, err)
	}
	return nil
}

// ensureRole creates role with LOGIN if missing, and sets its password when one is given.
func ensureRole(ctx context.Context, conn *pgx.Conn, role, password string) error {
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return fmt.Errorf("database roles: look up %s: %w", role, err)
	}
	if !exists {
		_, err := conn.Exec(ctx, `CREATE ROLE `+ident(role)+` LOGIN`)
		if err != nil && !hasCode(err, codeDuplicateObject, codeUniqueViolation) {
			return fmt.Errorf("database roles: create role %s (dotmac migrate needs a superuser or a role with CREATEROLE "+
				"to create it, or create it first, or run with --db-roles=false for one role that owns everything: "+
				"see docs/database-roles.md): %w", role, err)
		}
	}
	if password == "" {
		return nil
	}
	// ALTER ROLE takes no parameters: the password is quoted as a literal.
	lit, err := conn.PgConn().EscapeString(password)
	if err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	if _, err := conn.Exec(ctx, `ALTER ROLE `+ident(role)+` WITH LOGIN PASSWORD '`+lit+`'`); err != nil {
		return fmt.Errorf("database roles: set the password of %s: %w", role, err)
	}
	return nil
}

// upAsOwner applies the pending migrations on connections that have SET ROLE to the owner, so
// that the owner owns what they create.
func upAsOwner(ctx context.Context, admin *pgxpool.Pool, sc scope, r Roles, sets []Set) error {
	cfg := admin.Config()
	cfg.MaxConns = 2
	if sc.user != r.Owner {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, `SET ROLE `+ident(r.Owner))
			return err
		}
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("database roles: connect as %s: %w", r.Owner, err)
	}
	defer pool.Close()
	return Up(ctx, pool, sets...)
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func hasCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && slices.Contains(codes, pgErr.Code)
}
