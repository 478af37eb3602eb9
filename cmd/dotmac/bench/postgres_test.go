package bench

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestDescribePostgres: the report names the server's version and the settings that change
// what its figures mean, read from the server itself.
func TestDescribePostgres(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	version, settings, err := describePostgres(ctx, pool)
	require.NoError(t, err)
	var want string
	require.NoError(t, pool.QueryRow(ctx, `SHOW server_version`).Scan(&want))
	assert.Equal(t, want, version)
	for _, name := range postgresSettings {
		var v string
		require.NoError(t, pool.QueryRow(ctx, `SELECT current_setting($1)`, name).Scan(&v))
		assert.Equal(t, v, settings[name], name)
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
		{"autovacuum off", Machine{Postgres: "15.10", PostgresSettings: map[string]string{"autovacuum": "off"}},
			"PostgreSQL 15.10 (autovacuum off)\nnote: autovacuum is off: nothing vacuums the tables the ledger updates in place (idempotency keys, checkpoints, open invoices, read-model states) during the run; the baseline only inserts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, c.want, c.m.postgresLine())
		})
	}
}
