package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestServeWithoutMigrateRefusesAnUnmigratedDatabase: --migrate=false (deploy/) starts only on
// a schema `dotmac migrate up` has brought to this binary's migrations.
func TestServeWithoutMigrateRefusesAnUnmigratedDatabase(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	t.Parallel()
	url := pgtest.SchemaURL(t)
	pool, err := db.Open(t.Context(), url, db.Options{MaxConns: 4})
	require.NoError(t, err)
	defer pool.Close()

	err = requireMigrated(t.Context(), pool)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "run `dotmac migrate up` first")

	require.NoError(t, migrate.Up(t.Context(), pool, migrationSets()...))
	assert.NoError(t, requireMigrated(t.Context(), pool))
}
