// Package pgtest gives each integration test its own PostgreSQL schema, so tests and packages
// run in parallel against the one real server without seeing each other's rows.
//
// The server is TEST_DATABASE_URL, else DATABASE_URL, else postgres://postgres@127.0.0.1:5432.
// Tests use the database dotmac_test on it, created when missing. Under `go test -short` the
// integration tests are skipped (make test-unit); otherwise an unreachable server fails them.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
)

// Database is the database the tests use on the server.
const Database = "dotmac_test"

var ensureOnce sync.Once
var ensureErr error

// ServerURL returns the URL of the test database (without a schema).
func ServerURL(tb testing.TB) string {
	tb.Helper()
	if testing.Short() {
		tb.Skip("integration test: needs PostgreSQL (skipped with -short)")
	}
	base := os.Getenv("TEST_DATABASE_URL")
	if base == "" {
		base = os.Getenv("DATABASE_URL")
	}
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatalf("pgtest: parse server url: %v", err)
	}
	admin := *u
	u.Path = "/" + Database
	ensureOnce.Do(func() { ensureErr = ensureDatabase(admin.String(), Database) })
	if ensureErr != nil {
		tb.Fatalf("pgtest: %v", ensureErr)
	}
	return u.String()
}

// SchemaURL creates a fresh schema for tb, dropped when tb ends, and returns a URL whose
// connections use it as their search_path.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	schema := schemaName(tb.Name())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("pgtest: create schema: %v", err)
	}
	tb.Cleanup(func() { dropSchema(tb, base, schema) })
	u, _ := url.Parse(base)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Pool returns a pool on a fresh schema with sets migrated; closed and dropped when tb ends.
func Pool(tb testing.TB, sets ...migrate.Set) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, SchemaURL(tb), db.Options{AppName: "dotmac-test", MaxConns: 24})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := migrate.Up(ctx, pool, sets...); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return pool
}

// DatabaseURL creates a fresh database for tb on the test server, dropped when tb ends, and
// returns its URL: for tests that change database-wide settings (ALTER DATABASE ... SET).
func DatabaseURL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	name := schemaName(tb.Name())
	exec(tb, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	tb.Cleanup(func() { exec(tb, base, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)") })
	u, _ := url.Parse(base)
	u.Path = "/" + name
	return u.String()
}

// PoolOn returns a pool on the database of dbURL with sets migrated; closed when tb ends.
func PoolOn(tb testing.TB, dbURL string, sets ...migrate.Set) *pgxpool.Pool {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool, err := db.Open(ctx, dbURL, db.Options{AppName: "dotmac-test", MaxConns: 24})
	if err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	tb.Cleanup(pool.Close)
	if err := migrate.Up(ctx, pool, sets...); err != nil {
		tb.Fatalf("pgtest: %v", err)
	}
	return pool
}

// SetReadOnly makes the database of dbURL (one of DatabaseURL's) refuse writes in every new
// session and ends its open sessions, as a failover to a standby or an operator's
// default_transaction_read_only would; on false it accepts writes again (for new sessions).
func SetReadOnly(tb testing.TB, dbURL string, readOnly bool) {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", dbURL, err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	value := "off"
	if readOnly {
		value = "on"
	}
	exec(tb, ServerURL(tb), "ALTER DATABASE "+pgx.Identifier{name}.Sanitize()+" SET default_transaction_read_only = "+value)
	exec(tb, ServerURL(tb), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '"+name+"' AND pid <> pg_backend_pid()")
}

// exec runs one statement on a connection of its own to url.
func exec(tb testing.TB, url, sql string) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatalf("pgtest: %s: %v", sql, err)
	}
}

func dropSchema(tb testing.TB, base, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Logf("pgtest: drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	// Schemas named after the test's (projection builds "<schema>__...", as-of copies and
	// scratch folds "<schema>_...") go with it.
	rows, err := conn.Query(ctx, `SELECT nspname FROM pg_namespace WHERE nspname = $1 OR starts_with(nspname, $1 || '_')`, schema)
	if err != nil {
		tb.Logf("pgtest: list schemas of %s: %v", schema, err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Logf("pgtest: list schemas of %s: %v", schema, err)
		return
	}
	for _, n := range names {
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{n}.Sanitize()+" CASCADE"); err != nil {
			tb.Logf("pgtest: drop schema %s: %v", n, err)
		}
	}
}

var unsafeChars = regexp.MustCompile(`[^a-z0-9_]+`)

func schemaName(testName string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafeChars.ReplaceAllString(strings.ToLower(testName), "_")
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	return "t_" + strings.Trim(name, "_") + "_" + hex.EncodeToString(b[:])
}

func ensureDatabase(adminURL, name string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to the test server (set TEST_DATABASE_URL to point elsewhere): %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&exists); err != nil {
		return fmt.Errorf("look up test database: %w", err)
	}
	if exists {
		return nil
	}
	_, err = conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "42P04" || pgErr.Code == "23505") {
		return nil // created by a parallel test binary
	}
	if err != nil {
		return fmt.Errorf("create test database: %w", err)
	}
	return nil
}

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// Explain returns PostgreSQL's plan of sql with args (EXPLAIN, nothing runs), one line per
// node, for tests that hold a statement to the plan it must keep.
func Explain(ctx context.Context, tb testing.TB, q Querier, sql string, args ...any) string {
	tb.Helper()
	rows, err := q.Query(ctx, "EXPLAIN "+sql, args...)
	if err != nil {
		tb.Fatalf("pgtest: explain: %v", err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("pgtest: explain: %v", err)
	}
	return strings.Join(lines, "\n")
}
