package bench

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestDescribePostgres: the report names the server's version and the settings that change
// what its figures mean, read from the server itself, and notes what serve warns of.
func TestDescribePostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	var m Machine
	require.NoError(t, describePostgres(ctx, pool, &m))
	var want string
	require.NoError(t, pool.QueryRow(ctx, `SHOW server_version`).Scan(&want))
	assert.Equal(t, want, m.Postgres)
	for _, name := range postgresSettings {
		var v string
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v))
		assert.Equal(t, v, m.PostgresSettings[name], name)
	}
	warnings, err := db.CheckSettings(ctx, pool)
	require.NoError(t, err)
	require.Len(t, m.PostgresNotes, len(warnings))
	for i, w := range warnings {
		assert.True(t, strings.HasPrefix(m.PostgresNotes[i], w.Setting+" is "+w.Value+": "), m.PostgresNotes[i])
	}
}

func TestPostgresLine(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		m    Machine
		want string
	}{
		{"not described", Machine{}, ""},
		{"autovacuum on", Machine{Postgres: "15.10", PostgresSettings: map[string]string{"autovacuum": "on", "fsync": "on", "shared_buffers": "128MB"}},
			"PostgreSQL 15.10 (autovacuum on, fsync on, shared_buffers 128MB)"},
		{"notes", Machine{Postgres: "15.10", PostgresSettings: map[string]string{"autovacuum": "off"}, PostgresNotes: []string{"autovacuum is off: it grows"}},
			"PostgreSQL 15.10 (autovacuum off)\nnote: autovacuum is off: it grows"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, c.want, c.m.postgresLine())
		})
	}
}
