package main

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestStartProcessManagers: the managers start over the serve system's pool, store and
// handlers (migrationSets has their tables), and stop.
func TestStartProcessManagers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, migrationSets()...)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	sys := &system{log: zerolog.Nop(), pool: pool, store: store, registry: newRegistry(), health: httpx.NewHealth()}
	stop, err := startProcessManagers(ctx, sys)
	require.NoError(t, err)
	time.Sleep(50 * time.Millisecond)
	stop()
}

// TestProcessFlags: serve takes the managers' flags, with environment defaults.
func TestProcessFlags(t *testing.T) {
	cmd := &cobra.Command{Use: "serve"}
	f := &processFlags{}
	f.bind(cmd.Flags())
	require.NoError(t, cmd.Flags().Parse([]string{"--dunning-grace-days", "7", "--billing-schedule", "--process-tick-interval", "5m"}))
	assert.Equal(t, 7, f.graceDays)
	assert.True(t, f.billingSchedule)
	assert.Equal(t, 5*time.Minute, f.tickInterval)
	assert.Equal(t, 30*time.Second, f.resumeAfter)
	assert.Equal(t, 14, f.dueDays)
	assert.NotNil(t, newServe(&globalFlags{}).Flags().Lookup("dunning-grace-days"))
}
