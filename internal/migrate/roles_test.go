package migrate_test

import (
	"context"
	"errors"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

const firstMigration = `-- +goose Up
CREATE TABLE log (id bigint PRIMARY KEY, body text NOT NULL);
CREATE TABLE state (id bigint PRIMARY KEY, v text);
CREATE SEQUENCE counter;
-- +goose StatementBegin
CREATE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER log_no_update BEFORE UPDATE OR DELETE ON log FOR EACH ROW EXECUTE FUNCTION log_append_only();
-- +goose Down
DROP TABLE log;
DROP TABLE state;
DROP SEQUENCE counter;
DROP FUNCTION log_append_only();
`

const secondMigration = `-- +goose Up
CREATE TABLE later (id bigint PRIMARY KEY, v text);
CREATE TABLE later_log (id bigint PRIMARY KEY);
-- +goose Down
DROP TABLE later_log;
DROP TABLE later;
`

// testSet is a component with an append-only table (log), an ordinary one (state), a
// sequence and a trigger function; with second it also has a later migration's tables.
func testSet(second bool) migrate.Set {
	files := fstest.MapFS{"00001_first.sql": {Data: []byte(firstMigration)}}
	appendOnly := []string{"log"}
	if second {
		files["00002_second.sql"] = &fstest.MapFile{Data: []byte(secondMigration)}
		appendOnly = append(appendOnly, "later_log")
	}
	return migrate.Set{Name: "app", FS: files, Table: "app_schema_migrations", AppendOnly: appendOnly}
}

// setUp runs Setup as the test server's superuser on a fresh schema and returns the admin
// pool, a pool connected as the runtime role and the roles.
func setUp(t *testing.T, sets ...migrate.Set) (admin, runtime *pgxpool.Pool, roles migrate.Roles) {
	t.Helper()
	ctx := context.Background()
	owner, rt := pgtest.Roles(t)
	roles = migrate.Roles{Owner: owner, Runtime: rt}
	url := pgtest.SchemaURL(t)
	admin = open(t, url)
	require.NoError(t, migrate.Setup(ctx, admin, roles, sets...))
	return admin, open(t, pgtest.As(t, url, rt)), roles
}

func open(t *testing.T, url string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), url, db.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// refused asserts that sql fails for lack of privilege.
func refused(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql)
	var pgErr *pgconn.PgError
	if assert.True(t, errors.As(err, &pgErr), "%s: want permission denied, got %v", sql, err) {
		assert.Equal(t, "42501", pgErr.Code, "%s: %s", sql, pgErr.Message)
	}
}

func allowed(t *testing.T, pool *pgxpool.Pool, sql string) {
	t.Helper()
	_, err := pool.Exec(context.Background(), sql)
	assert.NoError(t, err, sql)
}

func ownerOf(t *testing.T, pool *pgxpool.Pool, rel string) string {
	t.Helper()
	var owner string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT relowner::regrole::text FROM pg_class WHERE oid = to_regclass($1)`, rel).Scan(&owner))
	return owner
}

// TestSetupSeparatesTheRoles: the owner owns the schema and what the migrations created; the
// runtime role may only INSERT and SELECT the append-only table, may write the others, read
// the version table, create build schemas and views, and never alter, truncate or drop.
func TestSetupSeparatesTheRoles(t *testing.T) {
	t.Parallel()
	admin, rt, roles := setUp(t, testSet(false))
	ctx := context.Background()
	for _, rel := range []string{"log", "state", "counter", "app_schema_migrations"} {
		assert.Equal(t, roles.Owner, ownerOf(t, admin, rel), rel)
	}
	var schemaOwner string
	require.NoError(t, admin.QueryRow(ctx, `SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = current_schema()`).Scan(&schemaOwner))
	assert.Equal(t, roles.Owner, schemaOwner)

	allowed(t, rt, `INSERT INTO log VALUES (1, 'a')`)
	allowed(t, rt, `SELECT * FROM log`)
	for _, sql := range []string{
		`UPDATE log SET body = 'b'`, `DELETE FROM log`, `TRUNCATE log`, `ALTER TABLE log DISABLE TRIGGER ALL`,
		`ALTER TABLE log DISABLE TRIGGER log_no_update`, `DROP TABLE log`, `DROP TRIGGER log_no_update ON log`,
		`CREATE TRIGGER again BEFORE INSERT ON log FOR EACH ROW EXECUTE FUNCTION log_append_only()`,
		`CREATE OR REPLACE FUNCTION log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`DROP FUNCTION log_append_only() CASCADE`, `ALTER TABLE log OWNER TO CURRENT_USER`,
		`CREATE RULE no_update AS ON UPDATE TO log DO INSTEAD NOTHING`,
		`SET session_replication_role = replica`, `DROP SCHEMA ` + `"` + currentSchema(t, rt) + `" CASCADE`,
		`ALTER TABLE state ADD COLUMN w text`, `DROP TABLE state`, `TRUNCATE state`,
		`INSERT INTO app_schema_migrations (version_id, is_applied) VALUES (99, true)`, `DELETE FROM app_schema_migrations`,
		`GRANT ` + roles.Owner + ` TO CURRENT_USER`,
	} {
		refused(t, rt, sql)
	}
	allowed(t, rt, `INSERT INTO state VALUES (1, 'a')`)
	allowed(t, rt, `UPDATE state SET v = 'b'`)
	allowed(t, rt, `DELETE FROM state`)
	allowed(t, rt, `SELECT nextval('counter')`)
	allowed(t, rt, `SELECT version_id FROM app_schema_migrations`)
	build := currentSchema(t, rt) + "__build_b1"
	allowed(t, rt, `CREATE SCHEMA "`+build+`"`)
	allowed(t, rt, `CREATE TABLE "`+build+`".t (id int)`)
	allowed(t, rt, `CREATE VIEW t AS SELECT * FROM "`+build+`".t`)
	allowed(t, rt, `CREATE OR REPLACE VIEW t AS SELECT * FROM "`+build+`".t`)
	allowed(t, rt, `DROP SCHEMA "`+build+`" CASCADE`)

	// No function of the schema lends its owner's rights, and the trigger's cannot be called.
	var definers int
	require.NoError(t, rt.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND prosecdef`).Scan(&definers))
	assert.Zero(t, definers, "SECURITY DEFINER functions in the schema")
	_, err := rt.Exec(ctx, `SELECT log_append_only()`)
	require.Error(t, err)
	var n int
	require.NoError(t, rt.QueryRow(ctx, `SELECT count(*) FROM log WHERE body = 'a'`).Scan(&n))
	assert.Equal(t, 1, n, "the append-only row is unchanged")
}

func currentSchema(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&s))
	return s
}

// TestSetupIsIdempotent: Setup again, and several at once, succeed and change no privilege.
func TestSetupIsIdempotent(t *testing.T) {
	t.Parallel()
	admin, _, roles := setUp(t, testSet(false))
	ctx := context.Background()
	before := acls(t, admin)
	g, gctx := errgroup.WithContext(ctx)
	for range 3 {
		g.Go(func() error { return migrate.Setup(gctx, admin, roles, testSet(false)) })
	}
	require.NoError(t, g.Wait())
	assert.Equal(t, before, acls(t, admin))
}

// acls lists the schema's relations with their owners and privileges, and the schema's own.
func acls(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT relname || ' ' || relowner::regrole::text || ' ' || coalesce(relacl::text, '')
FROM pg_class WHERE relnamespace = current_schema()::regnamespace
UNION ALL SELECT nspname || ' ' || nspowner::regrole::text || ' ' || coalesce(nspacl::text, '') FROM pg_namespace WHERE nspname = current_schema()
ORDER BY 1`)
	require.NoError(t, err)
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	require.NoError(t, rows.Err())
	return out
}

// TestLaterMigrationsKeepTheRules: tables a later migration adds are writable by the runtime
// role, except those its set declares append-only.
func TestLaterMigrationsKeepTheRules(t *testing.T) {
	t.Parallel()
	admin, rt, roles := setUp(t, testSet(false))
	require.NoError(t, migrate.Setup(context.Background(), admin, roles, testSet(true)))
	assert.Equal(t, roles.Owner, ownerOf(t, admin, "later"))
	allowed(t, rt, `INSERT INTO later VALUES (1, 'a')`)
	allowed(t, rt, `UPDATE later SET v = 'b'`)
	allowed(t, rt, `INSERT INTO later_log VALUES (1)`)
	refused(t, rt, `UPDATE later_log SET id = 2`)
	refused(t, rt, `DELETE FROM later_log`)
}

// TestEnsureCurrentAsTheRuntimeRole: on a current schema the runtime role's start-up check
// passes without writing; on a schema lacking a migration it fails, saying to run dotmac
// migrate as the owner, and changes nothing.
func TestEnsureCurrentAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	admin, rt, roles := setUp(t, testSet(false))
	ctx := context.Background()
	require.NoError(t, migrate.EnsureCurrent(ctx, rt, testSet(false)))
	err := migrate.EnsureCurrent(ctx, rt, testSet(true))
	var behind *migrate.BehindError
	require.ErrorAs(t, err, &behind)
	assert.Equal(t, migrate.BehindError{Role: roles.Runtime, Owner: roles.Owner, Pending: 1}, *behind)
	assert.Contains(t, err.Error(), "dotmac migrate up")
	var exists bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT to_regclass('later') IS NOT NULL`).Scan(&exists))
	assert.False(t, exists)

	// A component added since (its version table missing) is the owner's to create too.
	added := migrate.Set{Name: "added", Table: "added_schema_migrations",
		FS: fstest.MapFS{"00001_added.sql": {Data: []byte("-- +goose Up\nCREATE TABLE added (id int);\n")}}}
	err = migrate.EnsureCurrent(ctx, rt, testSet(false), added)
	require.ErrorAs(t, err, &behind)
	assert.Equal(t, 1, behind.Pending)
	require.NoError(t, admin.QueryRow(ctx, `SELECT to_regclass('added') IS NOT NULL OR to_regclass('added_schema_migrations') IS NOT NULL`).Scan(&exists))
	assert.False(t, exists, "the runtime role created the added component's tables")
}

// TestSetupMovesTheOneRoleLayout: a schema one role migrated and owns entirely (the layout
// before the roles were separated), with a view it created, is taken over: the tables, the
// sequence, the function and a view of its own go to the owner, a projection's view and build
// schema to the runtime role, and the old role keeps no right on the append-only table.
func TestSetupMovesTheOneRoleLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, rt := pgtest.Roles(t)
	legacy := owner[:len(owner)-len("_owner")] + "_legacy"
	pgtest.CreateRole(t, legacy)
	url := pgtest.SchemaURL(t)
	admin := open(t, url)
	_, err := admin.Exec(ctx, `ALTER SCHEMA "`+currentSchema(t, admin)+`" OWNER TO `+legacy)
	require.NoError(t, err)
	old := open(t, pgtest.As(t, url, legacy))
	pgtest.GrantCreateOnDatabase(t, url, legacy)
	require.NoError(t, migrate.Up(ctx, old, testSet(false)))
	build := `"` + currentSchema(t, admin) + `__v_b1"`
	allowed(t, old, `INSERT INTO log VALUES (1, 'a'); CREATE VIEW w AS SELECT * FROM state;
		CREATE TABLE projection_builds (schema_name text PRIMARY KEY, tables text[] NOT NULL);
		INSERT INTO projection_builds VALUES (current_schema() || '__v_b1', '{v}');
		CREATE SCHEMA `+build+`; CREATE TABLE `+build+`.v (id int); CREATE VIEW v AS SELECT * FROM `+build+`.v`)
	allowed(t, old, `ALTER TABLE log DISABLE TRIGGER log_no_update; ALTER TABLE log ENABLE TRIGGER log_no_update`)

	roles := migrate.Roles{Owner: owner, Runtime: rt}
	require.NoError(t, migrate.Setup(ctx, admin, roles, testSet(false)))
	for _, rel := range []string{"log", "state", "counter", "app_schema_migrations", "projection_builds", "w"} {
		assert.Equal(t, owner, ownerOf(t, admin, rel), rel)
	}
	assert.Equal(t, rt, ownerOf(t, admin, "v"), "a projection's view")
	assert.Equal(t, rt, ownerOf(t, admin, build+".v"), "a projection build's table")
	var buildOwner string
	require.NoError(t, admin.QueryRow(ctx, `SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = current_schema() || '__v_b1'`).Scan(&buildOwner))
	assert.Equal(t, rt, buildOwner, "a projection build's schema")
	var fnOwner string
	require.NoError(t, admin.QueryRow(ctx, `SELECT proowner::regrole::text FROM pg_proc WHERE oid = 'log_append_only'::regproc`).Scan(&fnOwner))
	assert.Equal(t, owner, fnOwner)
	_, err = old.Exec(ctx, `ALTER TABLE log DISABLE TRIGGER log_no_update`)
	require.Error(t, err, "the old role has lost the schema")
	var oldRights bool
	require.NoError(t, admin.QueryRow(ctx, `SELECT has_schema_privilege($1, current_schema(), 'USAGE, CREATE')
		OR has_table_privilege($1, 'log', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, TRIGGER')`, legacy).Scan(&oldRights))
	assert.False(t, oldRights, "the old role keeps a right on the schema or the log")
	runtime := open(t, pgtest.As(t, url, rt))
	allowed(t, runtime, `SELECT * FROM v`)
	allowed(t, runtime, `INSERT INTO `+build+`.v VALUES (1)`)
	allowed(t, runtime, `CREATE OR REPLACE VIEW v AS SELECT * FROM `+build+`.v`)
	allowed(t, runtime, `DROP SCHEMA `+build+` CASCADE`)
	refused(t, runtime, `CREATE OR REPLACE VIEW w AS SELECT * FROM state`)
	refused(t, runtime, `ALTER TABLE log DISABLE TRIGGER log_no_update`)
	require.NoError(t, migrate.EnsureCurrent(ctx, runtime, testSet(false)))
}

// TestSetupAsTheOwnerRole: without a superuser, once both roles exist and the owner owns the
// database, the owner itself sets the database up (its public schema included) and the
// runtime role gets the same limits.
func TestSetupAsTheOwnerRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, rt := pgtest.Roles(t)
	pgtest.CreateRole(t, owner)
	pgtest.CreateRole(t, rt)
	url := pgtest.DatabaseURL(t)
	super := open(t, url)
	_, err := super.Exec(ctx, `ALTER DATABASE "`+databaseName(t, super)+`" OWNER TO "`+owner+`"`)
	require.NoError(t, err)

	asOwner := open(t, pgtest.As(t, url, owner))
	roles := migrate.Roles{Owner: owner, Runtime: rt}
	require.NoError(t, migrate.Setup(ctx, asOwner, roles, testSet(false)))
	require.NoError(t, migrate.Setup(ctx, asOwner, roles, testSet(false)))
	assert.Equal(t, owner, ownerOf(t, super, "log"))
	runtime := open(t, pgtest.As(t, url, rt))
	allowed(t, runtime, `INSERT INTO log VALUES (1, 'a')`)
	refused(t, runtime, `UPDATE log SET body = 'b'`)
	refused(t, runtime, `ALTER TABLE log DISABLE TRIGGER ALL`)
	allowed(t, runtime, `CREATE SCHEMA build_b1`)
}

func databaseName(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT current_database()`).Scan(&s))
	return s
}

// TestSetupNeverHandsTheOwnersObjectsToTheRuntimeRole: a set-up run again after the runtime
// role wrote projection_builds (which it may) does not give it the application schema or its
// tables, and refuses while the runtime role owns a SECURITY DEFINER function there, rather
// than handing it to the owner (with whose rights the runtime role could then call it).
func TestSetupNeverHandsTheOwnersObjectsToTheRuntimeRole(t *testing.T) {
	t.Parallel()
	admin, rt, roles := setUp(t, testSet(false))
	ctx := context.Background()
	schema := currentSchema(t, admin)
	// projection_builds as the projections' migrations leave it: the owner's, the runtime
	// role's to write once the set-up granted it.
	_, err := admin.Exec(ctx, `CREATE TABLE projection_builds (schema_name text, tables text[]);
ALTER TABLE projection_builds OWNER TO `+pgx.Identifier{roles.Owner}.Sanitize())
	require.NoError(t, err)
	require.NoError(t, migrate.Setup(ctx, admin, roles, testSet(false)))
	allowed(t, rt, `INSERT INTO projection_builds VALUES ('`+schema+`', ARRAY['log', 'state']), ('public', NULL), ('pg_catalog', NULL)`)

	require.NoError(t, migrate.Setup(ctx, admin, roles, testSet(false)))
	var schemaOwner string
	require.NoError(t, admin.QueryRow(ctx, `SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1`, schema).Scan(&schemaOwner))
	assert.Equal(t, roles.Owner, schemaOwner, "the application schema stays the owner's")
	for _, rel := range []string{"log", "state"} {
		assert.Equal(t, roles.Owner, ownerOf(t, admin, rel), rel)
	}
	refused(t, rt, `ALTER TABLE log DISABLE TRIGGER ALL`)

	allowed(t, rt, `CREATE FUNCTION sneak() RETURNS void SECURITY DEFINER LANGUAGE sql AS 'SELECT 1'`)
	err = migrate.Setup(ctx, admin, roles, testSet(false))
	require.ErrorContains(t, err, "SECURITY DEFINER")
	var fnOwner string
	require.NoError(t, admin.QueryRow(ctx, `SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'sneak'`).Scan(&fnOwner))
	assert.Equal(t, roles.Runtime, fnOwner, "the runtime role's function is not handed to the owner")
}
