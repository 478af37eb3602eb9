package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/schollz/progressbar/v3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
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

	sum, err := seedDemo(ctx, store, h, process.NewHolds(pool), cfg, progressbar.NewOptions(30, progressbar.OptionSetWriter(io.Discard)))
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

	_, err = seedDemo(ctx, store, h, process.NewHolds(pool), cfg, progressbar.NewOptions(30, progressbar.OptionSetWriter(io.Discard)))
	assert.ErrorContains(t, err, "already has a billing run", "a tenant is seeded once")
}

// TestDemoSeedWhileServerRuns: demo seed into the database of a running server whose process
// managers tick every 50 ms completes (the server's dunning would otherwise suspend the
// services the seed is creating: all of the seeded history is past due by today), and once the
// seed has ended the server's scheduler takes the tenant up: it marks the invoices still unpaid.
func TestDemoSeedWhileServerRuns(t *testing.T) {
	t.Parallel()
	url := pgtest.SchemaURL(t)
	startServerOn(t, url, "--process-tick-interval", "50ms", "--dunning-grace-days", "0")
	root, _ := newRoot()
	var out strings.Builder
	root.SetOut(&out)
	root.SetErr(io.Discard)
	root.SetArgs([]string{"demo", "seed", "--database-url", url, "--customers", "12", "--months", "3", "--seed", "3",
		"--grace-days", "0", "--log-level", "warn"})
	require.NoError(t, root.ExecuteContext(t.Context()), "demo seed beside a running server")
	assert.Contains(t, out.String(), "customers")

	ctx := t.Context()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.Eventually(t, func() bool {
		var n int
		// The seed marks its invoices at simulated instants in 2025; the server marks today.
		err := pool.QueryRow(ctx, `SELECT count(*) FROM es_events WHERE type = 'InvoiceMarkedOverdue'
			AND (data->>'marked_at')::timestamptz > now() - interval '1 day'`).Scan(&n)
		return err == nil && n > 0
	}, time.Minute, 50*time.Millisecond, "the server marks the seeded tenant's unpaid invoices once the seed is done")
}
