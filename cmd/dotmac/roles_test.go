package main

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgprovision"
	"github.com/dotmac/ledger/internal/pgtest"
)

// migrateUp runs `dotmac migrate up` with the superuser url as the migrating connection.
func migrateUp(t *testing.T, adminURL, owner, runtime string) {
	t.Helper()
	out, code := runCLI(t, "migrate", "up", "--migrate-database-url", adminURL, "--db-owner-role", owner, "--db-app-role", runtime,
		"--data-dir", t.TempDir(), "--log-level", "warn")
	require.Equal(t, 0, code, "%s", out)
}

func adminPool(t *testing.T, u string) *pgxpool.Pool {
	t.Helper()
	pool, err := db.Open(context.Background(), u, db.Options{MaxConns: 2})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool
}

// layout lists the owner and privileges of the schema, its relations and the build schemas.
func layout(t *testing.T, pool *pgxpool.Pool) []string {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT n.nspname || '.' || coalesce(c.relname, '') || ' ' ||
    coalesce(c.relowner, n.nspowner)::regrole::text || ' ' || coalesce(c.relacl::text, n.nspacl::text, '')
FROM pg_namespace n LEFT JOIN pg_class c ON c.relnamespace = n.oid AND c.relkind IN ('r', 'S', 'v')
WHERE n.nspname = current_schema() OR starts_with(n.nspname, current_schema() || '__') ORDER BY 1`)
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

// liveBuild returns the build serving projection name.
func liveBuild(t *testing.T, pool *pgxpool.Pool, name string) string {
	t.Helper()
	var b string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT live_build FROM projection_registry WHERE name = $1`, name).Scan(&b))
	return b
}

// rebuildAs runs `dotmac projections rebuild name` connected with dbURL, and returns the
// new live build.
func rebuildAs(t *testing.T, dbURL string, admin *pgxpool.Pool, name string) string {
	t.Helper()
	before := liveBuild(t, admin, name)
	out, code := runCLI(t, "projections", "rebuild", name, "--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn")
	require.Equal(t, 0, code, "%s", out)
	after := liveBuild(t, admin, name)
	assert.NotEqual(t, before, after, "the rebuild swapped to a new build")
	return after
}

// TestServeAsTheRuntimeRole: after `dotmac migrate up` (twice: the second changes nothing),
// the server connected as the runtime role takes commands of every kind, projects them and
// answers queries; a shadow rebuild run as that role swaps, and the server keeps serving from
// the new build, which that role owns, while the event log stays the owner's.
func TestServeAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	owner, app := pgtest.Roles(t)
	u := pgtest.SchemaURL(t)
	admin := adminPool(t, u)
	migrateUp(t, u, owner, app)
	first := layout(t, admin)
	migrateUp(t, u, owner, app)
	assert.Equal(t, first, layout(t, admin), "a second migrate up changes no owner or privilege")

	appURL := pgtest.As(t, u, app)
	s := startServerOn(t, appURL, "--process-managers=false")
	tok := s.mint(t, "acme")
	ids := seedForeignTarget(t, s, tok)

	build := rebuildAs(t, appURL, admin, "customers")
	var buildOwner, logOwner string
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT (SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = $1),
		(SELECT relowner::regrole::text FROM pg_class WHERE oid = 'es_events'::regclass)`, build).Scan(&buildOwner, &logOwner))
	assert.Equal(t, app, buildOwner)
	assert.Equal(t, owner, logOwner)

	r := s.do(t, http.MethodPost, s.command+"/v1/customers/"+ids["customer_id"]+"/contact", tok, "after-rebuild",
		map[string]any{"name": "Acme Renamed", "email": "acme@example.com", "billing_address": "1 Main St"})
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	pos := strconv.FormatUint(position(t, r.json(t)), 10)
	got := s.do(t, http.MethodGet, s.query+"/v1/customers/"+ids["customer_id"]+"?min_position="+pos, tok, "", nil)
	require.Equal(t, http.StatusOK, got.status, "%s", got.body)
	assert.Equal(t, "Acme Renamed", got.json(t)["name"])

	var sessions int
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE usename = $1`, app).Scan(&sessions))
	assert.Positive(t, sessions, "the server is connected as %s", app)
	// The command side has its own pool (--db-command-conns), apart from the query API's.
	var names []string
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT coalesce(array_agg(DISTINCT application_name), '{}')
		FROM pg_stat_activity WHERE usename = $1`, app).Scan(&names))
	assert.Contains(t, names, "dotmac-commands")
	assert.Contains(t, names, "dotmac")
}

// TestServeAsTheRuntimeRoleSaysToMigrate: a schema lacking a migration stops the server
// connected as the runtime role at start, with a message that names dotmac migrate up, and
// leaves the schema as it was.
func TestServeAsTheRuntimeRoleSaysToMigrate(t *testing.T) {
	t.Parallel()
	owner, app := pgtest.Roles(t)
	u := pgtest.SchemaURL(t)
	admin := adminPool(t, u)
	migrateUp(t, u, owner, app)
	_, err := admin.Exec(context.Background(), `DELETE FROM projections_schema_migrations WHERE version_id = 2`)
	require.NoError(t, err)
	before := layout(t, admin)

	out, code := runCLI(t, "serve", "--database-url", pgtest.As(t, u, app), "--command-addr", "127.0.0.1:0", "--query-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--jwt-secret", "a-secret-of-enough-length-for-hs256-keys", "--data-dir", t.TempDir(), "--log-level", "warn")
	assert.NotEqual(t, 0, code)
	assert.Contains(t, out, "dotmac migrate up")
	assert.Contains(t, out, app)
	assert.Equal(t, before, layout(t, admin))
}

// TestMigrateUpMovesTheOneRoleLayout: an install in which one role migrated, served and so
// owned everything (the layout before the roles were separated) is taken over by `dotmac
// migrate up`: the tables go to the owner, the projections' views and builds to the runtime
// role, the old role keeps no right on the event log, and the server connected as the runtime
// role serves the old data and rebuilds.
func TestMigrateUpMovesTheOneRoleLayout(t *testing.T) {
	t.Parallel()
	owner, app := pgtest.Roles(t)
	legacy := app + "_legacy"
	pgtest.CreateRole(t, legacy)
	u := pgtest.SchemaURL(t)
	admin := adminPool(t, u)
	_, err := admin.Exec(context.Background(), `ALTER SCHEMA "`+currentSchemaOf(t, admin)+`" OWNER TO "`+legacy+`"`)
	require.NoError(t, err)
	pgtest.GrantCreateOnDatabase(t, u, legacy)
	var ids map[string]string
	var tok string
	t.Run("one role", func(t *testing.T) {
		s := startServerOn(t, pgtest.As(t, u, legacy), "--process-managers=false")
		tok = s.mint(t, "acme")
		ids = seedForeignTarget(t, s, tok)
	})
	var legacyOwns bool
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT pg_has_role($1, relowner, 'USAGE') FROM pg_class WHERE oid = 'es_events'::regclass`, legacy).Scan(&legacyOwns))
	require.True(t, legacyOwns, "the one role owns the event log before")

	migrateUp(t, u, owner, app)
	var wrong []string
	rows, err := admin.Query(context.Background(), `SELECT n.nspname || '.' || c.relname || ' ' || c.relowner::regrole::text FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE (n.nspname = current_schema() OR starts_with(n.nspname, current_schema() || '__')) AND c.relkind IN ('r', 'S', 'v')
		AND c.relowner <> (CASE WHEN n.nspname = current_schema() AND c.relkind <> 'v' THEN $1 ELSE $2 END)::regrole`, owner, app)
	require.NoError(t, err)
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		wrong = append(wrong, s)
	}
	require.NoError(t, rows.Err())
	assert.Empty(t, wrong, "relations not owned by %s (tables) or %s (views, builds)", owner, app)
	var legacyRights bool
	require.NoError(t, admin.QueryRow(context.Background(), `SELECT has_table_privilege($1, 'es_events', 'UPDATE, DELETE, TRUNCATE, TRIGGER')
		OR pg_has_role($1, relowner, 'USAGE') FROM pg_class WHERE oid = 'es_events'::regclass`, legacy).Scan(&legacyRights))
	assert.False(t, legacyRights, "the old role may still change the event log")

	appURL := pgtest.As(t, u, app)
	s := startServerOn(t, appURL, "--process-managers=false")
	for _, path := range []string{"/v1/customers/" + ids["customer_id"], "/v1/invoices/" + ids["invoice_id"], "/v1/journal"} {
		r := s.do(t, http.MethodGet, s.query+path, tok, "", nil)
		assert.Equal(t, http.StatusOK, r.status, "GET %s: %s", path, r.body)
	}
	rebuildAs(t, appURL, admin, "invoices")
	r := s.do(t, http.MethodGet, s.query+"/v1/invoices/"+ids["invoice_id"], tok, "", nil)
	assert.Equal(t, http.StatusOK, r.status, "%s", r.body)
}

// TestLocalServerSetsTheRolesUp: on a local server (make run: no DATABASE_URL), a command
// that migrates sets the roles up as the local superuser and connects as the runtime role,
// again on the second start; a local role that may not create roles is used as before.
func TestLocalServerSetsTheRolesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	owner, app := pgtest.Roles(t)
	u := pgtest.SchemaURL(t)
	d := &dbFlags{roles: roleFlags{enabled: true, owner: owner, runtime: app}}
	for range 2 {
		got, err := d.runtimeURL(ctx, zerolog.Nop(), &pgprovision.Result{URL: u, Source: pgprovision.SourceLocal}, false)
		require.NoError(t, err)
		pool := adminPool(t, got)
		var user string
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_user`).Scan(&user))
		assert.Equal(t, app, user)
	}

	plain := app + "_plain"
	pgtest.CreateRole(t, plain)
	other := pgtest.SchemaURL(t)
	_, err := adminPool(t, other).Exec(ctx, `ALTER SCHEMA "`+currentSchemaOf(t, adminPool(t, other))+`" OWNER TO "`+plain+`"`)
	require.NoError(t, err)
	plainURL := pgtest.As(t, other, plain)
	d2 := &dbFlags{roles: roleFlags{enabled: true, owner: plain + "_owner", runtime: plain + "_app"}}
	got, err := d2.runtimeURL(ctx, zerolog.Nop(), &pgprovision.Result{URL: plainURL, Source: pgprovision.SourceLocal}, false)
	require.NoError(t, err)
	assert.Equal(t, plainURL, got, "a local role that may not create roles serves as itself")
}

func currentSchemaOf(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&s))
	return s
}
