package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Roles names an owner and a runtime role of tb's own (migrate.Roles), for tests of the
// least-privilege layout; Setup creates them. When tb ends, their sessions are ended and
// everything they own or were granted in the test database goes with them. Register it
// before anything that must stop first (a server connected as one of them).
func Roles(tb testing.TB) (owner, runtime string) {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	tag := "t_role_" + hex.EncodeToString(b[:])
	owner, runtime = tag+"_owner", tag+"_app"
	base := ServerURL(tb)
	tb.Cleanup(func() { dropRoles(tb, base, owner, runtime) })
	return owner, runtime
}

// As returns dbURL (one of SchemaURL's or DatabaseURL's) with role as its user, without a
// password: the test server trusts loopback connections.
func As(tb testing.TB, dbURL, role string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", dbURL, err)
	}
	u.User = url.User(role)
	return u.String()
}

// CreateRole creates a login role with the given attributes (e.g. "NOSUPERUSER"), for tests
// that need a role of their own beyond Roles'; it is dropped with its objects when tb ends.
func CreateRole(tb testing.TB, role string) {
	tb.Helper()
	base := ServerURL(tb)
	exec(tb, base, "CREATE ROLE "+pgx.Identifier{role}.Sanitize()+" LOGIN")
	tb.Cleanup(func() { dropRoles(tb, base, role) })
}

func dropRoles(tb testing.TB, base string, roles ...string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		tb.Logf("pgtest: drop roles: %v", err)
		return
	}
	defer conn.Close(ctx)
	for _, r := range roles {
		var exists bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)`, r).Scan(&exists); err != nil || !exists {
			continue
		}
		id := pgx.Identifier{r}.Sanitize()
		_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1`, r)
		for _, sql := range []string{"DROP OWNED BY " + id + " CASCADE", "DROP ROLE " + id} {
			// DROP OWNED rewrites the database's catalog row, as parallel tests' grants do:
			// "tuple concurrently updated" is retried.
			for attempt := 1; ; attempt++ {
				_, err := conn.Exec(ctx, sql)
				if err == nil {
					break
				}
				if attempt == 5 || !strings.Contains(err.Error(), "concurrently updated") {
					tb.Logf("pgtest: %s: %v", sql, err)
					break
				}
			}
		}
	}
}

// GrantCreateOnDatabase grants role CREATE on the database of dbURL, as the test server's
// superuser, as a database owner would have it in the layout before the roles were separated.
// Parallel tests rewrite the database's catalog row too: a collision is retried.
func GrantCreateOnDatabase(tb testing.TB, dbURL, role string) {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("pgtest: parse %s: %v", dbURL, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, ServerURL(tb))
	if err != nil {
		tb.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	sql := "GRANT CREATE ON DATABASE " + pgx.Identifier{strings.TrimPrefix(u.Path, "/")}.Sanitize() + " TO " + pgx.Identifier{role}.Sanitize()
	for attempt := 1; ; attempt++ {
		_, err := conn.Exec(ctx, sql)
		if err == nil {
			return
		}
		if attempt == 5 || !strings.Contains(err.Error(), "concurrently updated") {
			tb.Fatalf("pgtest: %s: %v", sql, err)
		}
	}
}
