package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/cmd/dotmac/bench"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestStoreSinkAppendsEveryKind: a simulation of three tenants of twelve customers (USD, BHD, JPY) appended by
// the store sink with several workers holds every command kind, event type and activity, as
// many events as the simulation recorded, and verifies clean: hash chains, dense positions,
// balanced entries, each tenant's ledger netting to zero, every account folding to the
// balance its journal gives.
func TestStoreSinkAppendsEveryKind(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer store.Close()

	sink := bench.NewStoreSink(ctx, store, 8)
	defer func() { _ = sink.Close() }()
	stats, err := domainsim.Run(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "acme", Currency: "USD"},
		{Name: "gulf", Currency: "BHD"}, {Name: "edo", Currency: "JPY"}}, Customers: 12, Months: 3, Seed: 5, GraceDays: 14, Workers: 4}, sink)
	require.NoError(t, err)
	assert.Empty(t, stats.Missing())
	events, appends := sink.Appended()
	assert.Equal(t, int64(stats.EventCount()), events)
	assert.Less(t, appends, int64(stats.CommandCount()), "a stream's commands of a phase go in one append")
	head, err := store.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, events, int64(head)) //nolint:gosec // small

	report, err := audit.New(store).Verify(ctx, audit.VerifyOptions{Deep: true, DensePositions: true})
	require.NoError(t, err)
	assert.Empty(t, report.Findings)
	assert.True(t, report.OK)
	require.NotNil(t, report.Accounts, "a deep verify folds the accounts")
	assert.Equal(t, 3*12, *report.Accounts)
}
