package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/conformance"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

// runtimePool sets a fresh schema up with the owner and runtime roles (migrate.Setup, as the
// test server's superuser) and returns a pool connected as the runtime role.
func runtimePool(tb testing.TB) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	owner, rt := pgtest.Roles(tb)
	url := pgtest.SchemaURL(tb)
	admin, err := db.Open(ctx, url, db.Options{MaxConns: 2})
	require.NoError(tb, err)
	defer admin.Close()
	require.NoError(tb, migrate.Setup(ctx, admin, migrate.Roles{Owner: owner, Runtime: rt}, postgres.MigrationSet()))
	pool, err := db.Open(ctx, pgtest.As(tb, url, rt), db.Options{MaxConns: 8})
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	return pool
}

func runtimeStore(tb testing.TB) eventstore.Store {
	tb.Helper()
	s, err := postgres.Open(context.Background(), runtimePool(tb), postgres.Config{})
	require.NoError(tb, err)
	tb.Cleanup(s.Close)
	return s
}

// TestConformanceAsTheRuntimeRole: the whole store contract holds for a store connected as
// the runtime role, which may only SELECT and INSERT es_events.
func TestConformanceAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	conformance.Run(t, runtimeStore, conformance.Limitations{})
}

// TestRuntimeRoleCannotRewriteHistory: the runtime role appends through the store and may
// INSERT and SELECT es_events itself, but every way to change or remove a stored event, or
// to switch off the append-only trigger, is refused for lack of privilege.
func TestRuntimeRoleCannotRewriteHistory(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := runtimePool(t)
	s, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer s.Close()
	md := eventstore.Metadata{TenantID: "acme", Actor: "user-1", CorrelationID: "c-1", CausationID: "k-1", CommandID: "cmd-1"}
	res, err := s.Append(ctx, "t-acme/customer-1", eventstore.NoStream(), eventstore.EventData{
		ID: newID(), Type: "CustomerRegistered", SchemaVersion: 1, Metadata: md, Data: []byte(`{"name":"Acme"}`)})
	require.NoError(t, err)
	got, err := s.ReadStream(ctx, "t-acme/customer-1", 0, eventstore.Forwards, 10)
	require.NoError(t, err)
	require.Len(t, got, 1)
	_, err = pool.Exec(ctx, `INSERT INTO es_events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at, hash)
		VALUES ($1, gen_random_uuid(), 'raw', 1, 'Raw', 1, '{}', '{}', now(), decode(repeat('00', 32), 'hex'))`, int64(res.LastPosition)+1) //nolint:gosec // small
	require.NoError(t, err, "INSERT as the runtime role")
	var before string
	require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(encode(hash, 'hex') || data::text, ',' ORDER BY position) FROM es_events`).Scan(&before))

	for _, sql := range []string{
		`ALTER TABLE es_events DISABLE TRIGGER es_events_no_update_delete`,
		`ALTER TABLE es_events DISABLE TRIGGER ALL`,
		`UPDATE es_events SET data = '{"name":"Forged"}'`,
		`DELETE FROM es_events`,
		`TRUNCATE es_events`,
		`DROP TABLE es_events`,
		`ALTER TABLE es_events RENAME TO es_events_old`,
		`ALTER TABLE es_events OWNER TO CURRENT_USER`,
		`DROP TRIGGER es_events_no_update_delete ON es_events`,
		`CREATE OR REPLACE FUNCTION es_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$`,
		`DROP FUNCTION es_events_append_only() CASCADE`,
		`CREATE RULE forge AS ON SELECT TO es_events DO INSTEAD SELECT * FROM es_events`,
		`SET session_replication_role = replica`,
		`DROP SCHEMA "` + schemaOf(t, pool) + `" CASCADE`,
		`BEGIN; LOCK TABLE es_events IN ACCESS EXCLUSIVE MODE; COMMIT`,
	} {
		_, err := pool.Exec(ctx, sql)
		var pgErr *pgconn.PgError
		if assert.True(t, errors.As(err, &pgErr), "%s: want permission denied, got %v", sql, err) {
			assert.Equal(t, "42501", pgErr.Code, "%s: %s", sql, pgErr.Message)
		}
	}
	// Nor through a function: none in the schema runs with its owner's rights, and the
	// trigger function cannot be called directly.
	var definers int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace AND prosecdef`).Scan(&definers))
	assert.Zero(t, definers, "SECURITY DEFINER functions in the schema")
	_, err = pool.Exec(ctx, `SELECT es_events_append_only()`)
	require.Error(t, err)

	var after string
	require.NoError(t, pool.QueryRow(ctx, `SELECT string_agg(encode(hash, 'hex') || data::text, ',' ORDER BY position) FROM es_events`).Scan(&after))
	assert.Equal(t, before, after, "history unchanged")
}

func schemaOf(t *testing.T, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&s))
	return s
}
