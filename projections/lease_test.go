package projections_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestOneRuntimeRunsEachProjectionLive: of two projector processes, the one holding the live
// build's lease runs the projection live and the other stands by (its status names the
// holder); when the holder stops, the other takes over. With no projector running, the
// status says so instead of showing a running projection with a growing lag.
func TestOneRuntimeRunsEachProjectionLive(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	projs := func() []projections.Projection {
		return []projections.Projection{&counter{name: "counter", version: 1}}
	}
	optsA, optsB := testOptions(), testOptions()
	optsA.Lease = consumer.LeaseConfig{Holder: "a", Poll: 10 * time.Millisecond}
	optsB.Lease = consumer.LeaseConfig{Holder: "b", Poll: 10 * time.Millisecond}
	appendEvents(t, e.store, 50, 3, nil)

	rtA := projectiontest.Start(t, e.pool, e.store, projs(), optsA)
	eventually(t, 30*time.Second, "a runs the projection live", func() bool { return status(t, rtA, "counter").Holder == "a" })
	poolB, storeB := e.process(t, "proj-lease-b")
	rtB := projectiontest.Start(t, poolB, storeB, projs(), optsB)
	appendEvents(t, e.store, 50, 3, nil)
	projectiontest.WaitCaughtUp(t, rtA, "counter", 30*time.Second)
	st := status(t, rtB, "counter")
	assert.Equal(t, "a", st.Holder, "b stands by while a holds the lease")
	require.NotNil(t, st.RenewedAt)

	rtA.Stop()
	eventually(t, 30*time.Second, "b takes the projection over", func() bool { return status(t, rtB, "counter").Holder == "b" })
	appendEvents(t, e.store, 50, 3, nil)
	head, err := e.store.Head(context.Background())
	require.NoError(t, err)
	assert.Equal(t, head, projectiontest.WaitCaughtUp(t, rtB, "counter", 30*time.Second))

	rtB.Stop()
	idle := projectiontest.New(t, e.pool, e.store, projs(), testOptions()) // the CLI's runtime: not started
	st = status(t, idle, "counter")
	assert.Equal(t, projections.StateRunning, st.State, "the registry still says running")
	assert.False(t, st.Running(), "but no process holds the lease: not running")
	assert.Empty(t, st.Holder)
	require.NotNil(t, st.RenewedAt, "the last heartbeat is kept")
}

// TestStartForgetsOrphanCheckpoints: a checkpoint row of a build that is gone (a standby
// projector took the lease of a build dropped meanwhile) is deleted when a runtime starts.
func TestStartForgetsOrphanCheckpoints(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `INSERT INTO feed_checkpoints (consumer, lease_holder) VALUES ('projections.gone_b1', 'x'), ('other', NULL)`)
	require.NoError(t, err)
	projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	var consumers []string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT array_agg(consumer ORDER BY consumer) FROM feed_checkpoints
WHERE NOT starts_with(consumer, 'projectors/')`).Scan(&consumers)) // the projector processes' membership rows
	require.Len(t, consumers, 2)
	assert.Equal(t, "other", consumers[0], "other consumers' rows stay")
	assert.Contains(t, consumers[1], "projections.", "the live build's row stays")
	assert.NotContains(t, consumers, "projections.gone_b1")
}
