package main

import (
	"context"
	"io"
	"testing"

	"github.com/schollz/progressbar/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestDemoSeedSmall seeds 12 customers over 3 months through the handlers (the README's
// smallest demo) and checks that every command kind, event type and activity is there, and
// that the ledger verifies (hash chains, dense positions, balanced entries, every account
// folds and its balance matches the journal).
func TestDemoSeedSmall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, migrationSets()...)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	h, err := commands.New(commands.Config{Store: store, Numbers: pgstore.NewNumbers(pool, pgstore.Options{AsyncCommit: true}),
		Index: pgstore.NewIndex(pool, store)})
	require.NoError(t, err)
	f := &demoSeedFlags{tenant: "demo", customers: 12, months: 3, start: "2025-01", seed: 7, graceDays: 14, workers: 8}
	cfg, err := f.config()
	require.NoError(t, err)

	sum, err := seedDemo(ctx, store, h, cfg, progressbar.NewOptions(30, progressbar.OptionSetWriter(io.Discard)))
	require.NoError(t, err)
	assert.Empty(t, sum.stats.Missing(), "every command kind, event type and activity")
	for _, kind := range domainsim.Activities() {
		assert.Positive(t, sum.Created[kind], kind)
	}
	assert.Equal(t, 12, sum.Created["customers"])
	assert.Equal(t, 3, sum.Created["billing_runs"])
	head, err := store.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, int64(head), sum.Events) //nolint:gosec // small
	assert.Equal(t, int64(sum.stats.EventCount()), sum.Events, "the simulation folded every event appended")

	report, err := audit.New(store).Verify(ctx, audit.VerifyOptions{Deep: true, DensePositions: true})
	require.NoError(t, err)
	assert.Empty(t, report.Findings)

	tenant, err := domain.ParseTenantID("demo")
	require.NoError(t, err)
	for _, p := range []string{"2025-01", "2025-02", "2025-03"} {
		period, err := domain.ParsePeriod(p)
		require.NoError(t, err)
		run, _, err := h.BillingRun(ctx, tenant, period)
		require.NoError(t, err)
		assert.True(t, run.Completed, p)
	}

	_, err = seedDemo(ctx, store, h, cfg, progressbar.NewOptions(30, progressbar.OptionSetWriter(io.Discard)))
	assert.ErrorContains(t, err, "already has a billing run", "a tenant is seeded once")
}
