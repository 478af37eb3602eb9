package projections

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// oneTable is a projection "counter" with one table and nothing to apply.
type oneTable struct{ versioned }

func (oneTable) Tables() []string { return []string{"one"} }
func (oneTable) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `CREATE TABLE one (n bigint)`)
	return err
}

// partitionedRuntime returns a runtime (not started) whose projection "counter" has a first
// live build of n partitions, and that build.
func partitionedRuntime(t *testing.T, n int) (*Runtime, *pgxpool.Pool, *entry, string) {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	r, err := New(ctx, pool, store, []Projection{oneTable{versioned{version: 1}}}, Options{Partitions: n})
	require.NoError(t, err)
	e := r.entries["counter"]
	_, err = r.prepare(ctx, e)
	require.NoError(t, err)
	lb := readLiveOf(t, r, e)
	require.Equal(t, n, lb.partitions)
	return r, pool, e, lb.build
}

// readLiveOf reads e's live build under its lock.
func readLiveOf(t *testing.T, r *Runtime, e *entry) liveBuild {
	t.Helper()
	tx, lb, found, err := r.beginLocked(context.Background(), e)
	require.NoError(t, err)
	require.NoError(t, tx.Rollback(context.Background()))
	require.True(t, found)
	return lb
}

// positionOf reads the checkpoint row consumer of r's application schema through q (a
// transaction's search_path may be a build's).
func positionOf(t *testing.T, r *Runtime, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, consumer string) int64 {
	t.Helper()
	var pos int64
	var at *time.Time
	require.NoError(t, q.QueryRow(context.Background(), r.sqls.cp.Read, consumer).Scan(&pos, &at))
	return pos
}

// TestEveryPartitionCheckpointIsRead: the statements that read a build's checkpoint rows by
// name (partRowsOf) find every partition's, two-digit numbers included, in partition order:
// under the lock (catch-up, swap, retry), for waiters, and for the standby's poller.
func TestEveryPartitionCheckpointIsRead(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, pool, e, build := partitionedRuntime(t, 12)
	_, err := pool.Exec(ctx, `UPDATE feed_checkpoints SET position = 100 + right(consumer, 2)::int WHERE starts_with(consumer, $1)`, buildConsumer(build)+"/p")
	require.NoError(t, err)
	want := make([]eventstore.Position, 12)
	for k := range want {
		want[k] = eventstore.Position(100 + k) //nolint:gosec // small
	}

	lb := readLiveOf(t, r, e)
	assert.Equal(t, want, lb.cps, "under the lock")
	assert.Equal(t, eventstore.Position(100), lb.checkpoint)
	st, found, err := r.liveState(ctx, "counter", nil)
	require.NoError(t, err)
	require.True(t, found)
	assert.Equal(t, want, st.cps, "a waiter's read")
	rows, err := r.liveRows(ctx)
	require.NoError(t, err)
	assert.Equal(t, want, rows["counter"].parts, "the poller's read")
	assert.Equal(t, eventstore.Position(100), rows["counter"].checkpoint)
}

// TestLiveBatchMovesItsCheckpointOnlyUnderItsLocks: a live batch's read, sent with its lock
// statement in one round trip, reads the partition's checkpoint as it was and moves it to the
// batch's end in the same transaction; when the locks were not taken it moves nothing (nor
// waits for the row another applier holds), and the transaction is tried again later.
func TestLiveBatchMovesItsCheckpointOnlyUnderItsLocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, pool, e, build := partitionedRuntime(t, 12)
	p := livePart{build: build, n: 12, k: 11}
	row := partConsumer(build, 12, 11)
	last := &Event{Envelope: eventstore.Envelope{Position: 7}}

	whole, err := pool.Begin(ctx) // a catch-up or swap: the projection's lock, exclusively
	require.NoError(t, err)
	defer func() { _ = whole.Rollback(ctx) }()
	_, err = whole.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, e.lockKey)
	require.NoError(t, err)
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	locked, _, err := r.sendPartReads(ctx, tx, e, p, last)
	require.NoError(t, err)
	assert.False(t, locked)
	assert.Zero(t, positionOf(t, r, tx, row), "moved without the locks")
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, whole.Rollback(ctx))

	again, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = again.Rollback(ctx) }()
	locked, pr, err := r.sendPartReads(ctx, again, e, p, last)
	require.NoError(t, err)
	require.True(t, locked)
	assert.True(t, pr.found)
	assert.Equal(t, build, pr.lb.build)
	assert.Equal(t, 12, pr.lb.partitions)
	assert.True(t, pr.hasCP)
	assert.Zero(t, pr.cp, "the checkpoint before the batch")
	assert.True(t, pr.moved)
	assert.Equal(t, int64(7), positionOf(t, r, again, row), "moved in the transaction")
	assert.Zero(t, positionOf(t, r, pool, row), "not before the commit")
	require.NoError(t, r.checkPart(e, pr, liveBatch{first: 1, last: *last}, p, 0))
}

// TestLiveBatchSeesTheSwap: a swap committed while a partition's next batch waits for the
// projection's lock is seen by that batch: it halts, having written nothing, though its
// checkpoint's move was sent with the locks.
func TestLiveBatchSeesTheSwap(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, pool, e, old := partitionedRuntime(t, 2)
	before := positionOf(t, r, pool, partConsumer(old, 2, 1))

	swap, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = swap.Rollback(ctx) }()
	require.NoError(t, lockProjection(ctx, swap, e))
	next, err := r.createBuild(ctx, swap, e, buildSpec{purpose: purposeShadow, partitions: 2})
	require.NoError(t, err)
	_, err = swap.Exec(ctx, `UPDATE projection_registry SET live_build = $2 WHERE name = $1`, e.name, next)
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		from := eventstore.Position(before) //nolint:gosec // non-negative
		last := Event{Envelope: eventstore.Envelope{Position: from + 5}}
		_, err := r.applyLive(ctx, e, livePart{build: old, n: 2, k: 1}, liveBatch{first: from + 1, last: last}, 0, false)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("the batch did not wait for the swap's lock: %v", err)
	case <-time.After(3 * partLockRetry):
	}
	require.NoError(t, swap.Commit(ctx))
	err = <-done
	require.Error(t, err)
	assert.True(t, errors.Is(err, errHalt), "halts: %v", err)
	assert.Contains(t, err.Error(), "swapped to "+next)
	assert.Equal(t, before, positionOf(t, r, pool, partConsumer(old, 2, 1)), "the old build's checkpoint stays")
}
