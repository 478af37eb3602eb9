package readapi_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/readapi"
)

// TestWarmUpPlansTheHotReads: each statement WarmUp plans is valid over the read models (a
// statement that drifted from the schema would only be skipped by WarmUp, which never fails,
// so it is checked here), and WarmUp leaves the session usable.
func TestWarmUpPlansTheHotReads(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	ctx := context.Background()
	conn, err := e.pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	n, failed := readapi.ExplainWarmReads(ctx, conn.Conn())
	assert.Positive(t, n)
	assert.Empty(t, failed)
	require.NoError(t, readapi.WarmUp(ctx, conn.Conn()))
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
}

// TestWarmUpWithoutReadModels: on a database whose read models do not exist yet (a first
// start), WarmUp does not fail the connection, which stays usable.
func TestWarmUpWithoutReadModels(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgtest.Pool(t).Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	require.NoError(t, readapi.WarmUp(ctx, conn.Conn()))
	var one int
	require.NoError(t, conn.QueryRow(ctx, "SELECT 1").Scan(&one))
}
