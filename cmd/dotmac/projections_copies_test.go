package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestProjectionsCopiesCLI: rebuild --into makes a copy the catalog lists (who made it, as of
// what); beyond --max-copies a copy is refused naming the cap and drop-copy; drop-copy drops
// a copy and refuses a schema that is no copy (the application's own).
func TestProjectionsCopiesCLI(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	r := s.do(t, http.MethodPost, s.command+"/v1/customers", s.mint(t, "acme"), "copies-1",
		map[string]any{"name": "Ada", "email": "ada@example.com", "billing_address": "1 Fiber Way", "currency": "USD"})
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)

	tag := strings.ReplaceAll(uuid.NewString()[:8], "-", "")
	first, second := "copy_"+tag+"_a", "copy_"+tag+"_b"
	pool, err := pgxpool.New(context.Background(), s.dbURL)
	require.NoError(t, err)
	t.Cleanup(func() {
		for _, n := range []string{first, second} {
			_, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{n}.Sanitize()+` CASCADE`)
		}
		pool.Close()
	})
	var app string
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT current_schema()`).Scan(&app))
	cli := func(args ...string) (string, int) {
		return runCLI(t, append([]string{"projections", "--database-url", s.dbURL, "--data-dir", t.TempDir(), "--log-level", "warn",
			"--max-copies", "1"}, args...)...)
	}

	out, code := cli("rebuild", "customers", "--as-of", fmt.Sprint(position(t, r.json(t))), "--into", first)
	require.Zero(t, code, out)
	out, code = cli("copies")
	require.Zero(t, code, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 3, out)
	assert.Regexp(t, `^NAME\s+PROJECTION\s+AS OF\s+POSITION\s+BY\s+CREATED\s+STATUS\s+ROWS\s+SIZE`, lines[0])
	assert.Regexp(t, `^`+first+`\s+customers\s+\d+\s+\d+\s+cli:\S+\s+\S+\s+done\s+1\s+\d`, lines[1])
	assert.Equal(t, "1 of at most 1 copies (--max-copies)", lines[2])

	out, code = cli("rebuild", "customers", "--into", second)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "too many as-of copies: 1 exist and the cap (--max-copies, DOTMAC_MAX_ASOF_COPIES) is 1")
	assert.Contains(t, out, "dotmac projections drop-copy NAME")

	out, code = cli("drop-copy", app)
	assert.Equal(t, 1, code)
	assert.Contains(t, out, "is not an as-of copy")
	out, code = cli("drop-copy", first)
	require.Zero(t, code, out)
	assert.Equal(t, "dropped as-of copy "+first+"\n", out)
	var exists bool
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1)`, first).Scan(&exists))
	assert.False(t, exists)
	out, code = cli("copies", "--json")
	require.Zero(t, code, out)
	assert.JSONEq(t, "[]", out)
}
