package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/conformance"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// mustOpen returns a store on a fresh schema of the test database.
func mustOpen(tb testing.TB) *postgres.Store {
	tb.Helper()
	pool := pgtest.Pool(tb, postgres.MigrationSet())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(tb, err)
	tb.Cleanup(s.Close)
	return s
}

func factory(tb testing.TB) eventstore.Store { return mustOpen(tb) }

func TestConformance(t *testing.T) {
	t.Parallel()
	conformance.Run(t, factory, conformance.Limitations{})
}

func TestRace(t *testing.T) {
	t.Parallel()
	conformance.RunRace(t, factory, conformance.RaceConfig{})
}
