package migrate

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// takeOwnership gives the application schema and every table, view, standalone sequence and
// function in it to the owner, except the projections' views, which go to the runtime role
// with the projections' build schemas (and everything in them). On a database that one role owned entirely (the layout before
// the roles were separated) this moves every object; on a current one it changes nothing.
// A database the runtime role owns is given to the owner: a database's owner owns its public
// schema and may drop anything in it.
//
// Only the first set-up (the schema not yet the owner's) moves tables and routines to the
// owner. Afterwards the runtime role's own objects are left alone: handing an object the
// runtime role created (a SECURITY DEFINER function, a view over the event log) to the owner
// would let the runtime role act with the owner's rights. A SECURITY DEFINER function of the
// runtime role in the schema is refused outright.
func takeOwnership(ctx context.Context, conn *pgx.Conn, sc scope, r Roles) error {
	var stmts []string
	var initial bool
	if err := conn.QueryRow(ctx, `SELECT coalesce((SELECT nspowner <> to_regrole($2::text) FROM pg_namespace WHERE nspname = $1::text), true)`,
		sc.schema, r.Owner).Scan(&initial); err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	var definer []string
	if err := collect(ctx, conn, &definer, `SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1::text AND p.prosecdef AND p.proowner = to_regrole($2::text)`, sc.schema, r.Runtime); err != nil {
		return err
	}
	if len(definer) > 0 {
		return fmt.Errorf("database roles: the runtime role %s owns SECURITY DEFINER function(s) %s in schema %s: drop them (as a superuser) before setting the roles up",
			r.Runtime, strings.Join(definer, ", "), sc.schema)
	}
	err := collect(ctx, conn, &stmts, `SELECT 'ALTER SCHEMA ' || quote_ident(n.nspname) || ' OWNER TO ' || quote_ident($2::text)
FROM pg_namespace n WHERE n.nspname = $1::text AND n.nspowner <> to_regrole($2::text)`, sc.schema, r.Owner)
	if err != nil {
		return err
	}
	err = collect(ctx, conn, &stmts, `SELECT 'ALTER DATABASE ' || quote_ident(d.datname) || ' OWNER TO ' || quote_ident($2::text)
FROM pg_database d WHERE d.datname = $1::text AND d.datdba = to_regrole($3::text)`, sc.db, r.Owner, r.Runtime)
	if err != nil {
		return err
	}
	views, err := projectionViews(ctx, conn, sc)
	if err != nil {
		return err
	}
	// The projections' views go to the runtime role (it creates and replaces them); the rest
	// to the owner. A sequence owned by a column follows its table.
	err = collect(ctx, conn, &stmts, `SELECT format('ALTER %s %I.%I OWNER TO %I',
    CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
        WHEN 'f' THEN 'FOREIGN TABLE' ELSE 'TABLE' END, n.nspname, c.relname, t.target)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL (SELECT CASE WHEN c.relkind = 'v' AND c.relname = ANY($4::text[]) THEN $3::text ELSE $2::text END AS target) t
WHERE n.nspname = $1::text AND c.relkind IN ('r', 'p', 'S', 'v', 'm', 'f') AND c.relowner <> to_regrole(t.target)
AND ($5::bool OR t.target = $3::text)
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))`,
		sc.schema, r.Owner, r.Runtime, views, initial)
	if err != nil {
		return err
	}
	err = collect(ctx, conn, &stmts, `SELECT format('ALTER ROUTINE %s OWNER TO %I', p.oid::regprocedure, $2::text)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = $1::text AND p.proowner <> to_regrole($2::text) AND $3::bool`, sc.schema, r.Owner, initial)
	if err != nil {
		return err
	}
	if err := buildOwnership(ctx, conn, &stmts, sc, r); err != nil {
		return err
	}
	return execAll(ctx, conn, "take ownership", stmts)
}

// projectionViews lists the tables of the projections' builds: the names of the views the
// projections keep in the application schema.
func projectionViews(ctx context.Context, conn *pgx.Conn, sc scope) ([]string, error) {
	builds := pgx.Identifier{sc.schema, "projection_builds"}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, builds).Scan(&exists); err != nil {
		return nil, fmt.Errorf("database roles: %w", err)
	}
	if !exists {
		return nil, nil
	}
	var views []string
	if err := collect(ctx, conn, &views, `SELECT DISTINCT unnest(tables) FROM `+builds); err != nil {
		return nil, err
	}
	return views, nil
}

// buildSchemaGuard keeps a name in projection_builds (a table the runtime role writes) from
// handing it the application schema, a system schema or any schema of the owner role ($2 the
// application schema, $3 the owner role; n the namespace).
const buildSchemaGuard = `n.nspname <> $2::text AND n.nspname NOT IN ('public', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
AND n.nspowner <> to_regrole($3::text)`

// buildOwnership adds the statements that give the projections' build schemas (as listed in
// the application schema's projection_builds, when there is one) and their contents to the
// runtime role.
func buildOwnership(ctx context.Context, conn *pgx.Conn, stmts *[]string, sc scope, r Roles) error {
	builds := pgx.Identifier{sc.schema, "projection_builds"}.Sanitize()
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass($1::text) IS NOT NULL`, builds).Scan(&exists); err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	if !exists {
		return nil
	}
	err := collect(ctx, conn, stmts, `SELECT 'ALTER SCHEMA ' || quote_ident(n.nspname) || ' OWNER TO ' || quote_ident($1::text)
FROM pg_namespace n WHERE n.nspowner <> to_regrole($1::text) AND n.nspname IN (SELECT schema_name FROM `+builds+`)
AND `+buildSchemaGuard, r.Runtime, sc.schema, r.Owner)
	if err != nil {
		return err
	}
	return collect(ctx, conn, stmts, `SELECT format('ALTER %s %I.%I OWNER TO %I',
    CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END,
    n.nspname, c.relname, $1::text)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname IN (SELECT schema_name FROM `+builds+`) AND c.relkind IN ('r', 'p', 'S', 'v', 'm')
AND c.relowner <> to_regrole($1::text) AND `+buildSchemaGuard+`
AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i'))`,
		r.Runtime, sc.schema, r.Owner)
}

// grant gives the runtime role what it needs and nothing more (see Roles), in one
// transaction, changing only what differs: a restart on a current database writes nothing
// but the default privileges.
func grant(ctx context.Context, conn *pgx.Conn, sc scope, r Roles, sets []Set) error {
	var appendOnly, versions []string
	for _, s := range ordered(sets) {
		appendOnly = append(appendOnly, s.AppendOnly...)
		versions = append(versions, s.Table)
	}
	rt, own, schema := ident(r.Runtime), ident(r.Owner), ident(sc.schema)
	stmts := []string{
		`ALTER DEFAULT PRIVILEGES FOR ROLE ` + own + ` IN SCHEMA ` + schema + ` GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO ` + rt,
		`ALTER DEFAULT PRIVILEGES FOR ROLE ` + own + ` IN SCHEMA ` + schema + ` GRANT USAGE, SELECT ON SEQUENCES TO ` + rt,
	}
	err := collect(ctx, conn, &stmts, `SELECT s FROM (VALUES
    (has_database_privilege($3::text, $1::text, 'CONNECT') AND has_database_privilege($3::text, $1::text, 'CREATE') AND has_database_privilege($3::text, $1::text, 'TEMP'),
     format('GRANT CONNECT, CREATE, TEMP ON DATABASE %I TO %I', $1::text, $3::text)),
    (has_database_privilege($4::text, $1::text, 'CONNECT'), format('GRANT CONNECT ON DATABASE %I TO %I', $1::text, $4::text)),
    (has_schema_privilege($3::text, $2::text, 'USAGE') AND has_schema_privilege($3::text, $2::text, 'CREATE'),
     format('GRANT USAGE, CREATE ON SCHEMA %I TO %I', $2::text, $3::text))) AS g(ok, s)
WHERE NOT ok`, sc.db, sc.schema, r.Runtime, r.Owner)
	if err != nil {
		return err
	}
	// Each relation the owner owns: the privileges the runtime role has (from its ACL), and
	// those it should have; where they differ, revoke all and grant the right ones.
	err = collect(ctx, conn, &stmts, `WITH want AS (
    SELECT c.oid, format('%I.%I', n.nspname, c.relname) AS name, CASE c.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END AS kind,
        CASE WHEN c.relkind = 'S' THEN ARRAY['SELECT', 'USAGE']
             WHEN c.relname = ANY($4::text[]) THEN ARRAY['SELECT']
             WHEN c.relname = ANY($3::text[]) THEN ARRAY['INSERT', 'SELECT']
             ELSE ARRAY['DELETE', 'INSERT', 'SELECT', 'UPDATE'] END AS privs
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = $1::text AND c.relkind IN ('r', 'p', 'S') AND c.relowner = to_regrole($5::text)
), have AS (
    SELECT w.oid, coalesce(array_agg(a.privilege_type::text ORDER BY a.privilege_type) FILTER (WHERE a.grantee IS NOT NULL), '{}') AS privs
    FROM want w JOIN pg_class c ON c.oid = w.oid
    LEFT JOIN LATERAL aclexplode(c.relacl) a ON a.grantee = to_regrole($2::text)
    GROUP BY w.oid
)
SELECT format('REVOKE ALL ON %s %s FROM %I', w.kind, w.name, $2::text) || '; ' ||
       format('GRANT %s ON %s %s TO %I', array_to_string(w.privs, ', '), w.kind, w.name, $2::text)
FROM want w JOIN have h ON h.oid = w.oid WHERE w.privs <> h.privs`, sc.schema, r.Runtime, appendOnly, versions, r.Owner)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return nil
	}
	// GRANT rewrites the database's catalog row, which the set-ups of other schemas of the
	// same database (and DROP OWNED) may rewrite at the same moment: serialize ours per
	// database, and retry the rare collision with anything else.
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, sc.databaseLockKey()); err != nil {
				return err
			}
			return execAll(ctx, tx.Conn(), "grant", stmts)
		})
		if err == nil || attempt == maxGrantAttempts || !concurrentlyUpdated(err) {
			return err
		}
	}
}

// maxGrantAttempts bounds the retries of a grant that collided with a concurrent catalog update.
const maxGrantAttempts = 5

// concurrentlyUpdated reports PostgreSQL's "tuple concurrently updated" (an internal error,
// XX000, raised when two sessions change one catalog row at once).
func concurrentlyUpdated(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "XX000" && strings.Contains(pgErr.Message, "concurrently updated")
}

// collect appends the statements query returns (one text column) to stmts.
func collect(ctx context.Context, conn *pgx.Conn, stmts *[]string, query string, args ...any) error {
	rows, err := conn.Query(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("database roles: %w", err)
	}
	*stmts = append(*stmts, got...)
	return nil
}

func execAll(ctx context.Context, conn *pgx.Conn, what string, stmts []string) error {
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("database roles: %s: %s: %w", what, s, err)
		}
	}
	return nil
}
