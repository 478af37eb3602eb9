package postgres_test

import (
	"context"
	"os"
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

// TestRace runs the conformance race with 5,000 events (8 writers, 16 streams): every
// interleaving it checks (conflicts, commits out of position order, the live feed) happens many
// times over at that size. DOTMAC_TEST_DEEP=1 runs the suite's default 20,000.
func TestRace(t *testing.T) {
	t.Parallel()
	cfg := conformance.RaceConfig{Events: 5_000}
	if os.Getenv("DOTMAC_TEST_DEEP") != "" {
		cfg.Events = 0 // the default
	}
	conformance.RunRace(t, factory, cfg)
}

// TestRawScanMatchesScan: the raw scanner reads the envelope columns on their wire formats,
// and gives exactly what pgx's Scan gives.
func TestRawScanMatchesScan(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	s, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer s.Close()
	md := eventstore.Metadata{TenantID: "acme", Actor: "user-1", CorrelationID: "c-1", CausationID: "k-1", CommandID: "cmd-1"}
	for i := range 30 {
		_, err := s.Append(ctx, "t-acme/customer-"+itoa(i%4), eventstore.Any(), eventstore.EventData{
			ID: newID(), Type: "Tested", SchemaVersion: 1 + i%2, Metadata: md,
			Data: []byte(`{"n":` + itoa(i) + `,"text":"é \u00e9 \"quoted\""}`)})
		require.NoError(t, err)
	}
	raw, generic, rawPath, err := postgres.ScanBothWays(ctx, pool,
		`SELECT `+postgres.EnvelopeColumns+` FROM es_events ORDER BY position`)
	require.NoError(t, err)
	require.True(t, rawPath, "the envelope columns take the raw path")
	require.Len(t, raw, 30)
	require.Equal(t, generic, raw)
}
