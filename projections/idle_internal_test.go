package projections

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// quiet is a projection of no tables that handles no event: every batch is idle for it.
type quiet struct{ versioned }

func (quiet) Tables() []string { return []string{} }
func (quiet) Tuning() Tuning   { return Tuning{Handles: []string{}} }

// TestAdvanceIdle: an idle batch's checkpoint moves in one round trip exactly when the full
// path would move it without applying anything: the locks free, the registry naming the
// partition's build of this version, not stalled, the checkpoint below the batch's end and
// (on a dense feed) no gap before its first event. In every other case it moves nothing and
// sends nothing, and the full path runs.
func TestAdvanceIdle(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	r, err := New(ctx, pool, store, []Projection{quiet{versioned{version: 1}}}, Options{Lease: consumer.LeaseConfig{Holder: "a"}})
	require.NoError(t, err)
	e := r.entries["counter"]
	_, err = r.prepare(ctx, e)
	require.NoError(t, err)
	st, found, err := r.liveState(ctx, "counter", nil)
	require.NoError(t, err)
	require.True(t, found)
	p := livePart{build: st.build, n: st.partitions}

	listen, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer listen.Release()
	_, err = listen.Exec(ctx, `LISTEN "`+r.sqls.channel+`"`)
	require.NoError(t, err)
	notified := func() []string {
		var got []string
		for {
			wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			n, err := listen.Conn().WaitForNotification(wctx)
			cancel()
			if err != nil {
				return got
			}
			got = append(got, n.Payload)
		}
	}
	checkpoint := func() eventstore.Position {
		st, _, err := r.liveState(ctx, "counter", nil)
		require.NoError(t, err)
		return st.checkpoint
	}
	batch := func(first, last eventstore.Position) liveBatch {
		return liveBatch{first: first, last: Event{Envelope: eventstore.Envelope{Position: last,
			Metadata: eventstore.Metadata{RecordedAt: time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)}}}}
	}
	// held runs f while another transaction holds the advisory lock key.
	held := func(key int64, f func()) {
		tx, err := pool.Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, key)
		require.NoError(t, err)
		f()
	}
	// changed runs f with the registry changed by sql, then puts it back with undo.
	changed := func(sql, undo string, f func()) {
		_, err := pool.Exec(ctx, sql, "counter")
		require.NoError(t, err)
		defer func() {
			_, err := pool.Exec(ctx, undo, "counter")
			require.NoError(t, err)
		}()
		f()
	}
	moves := func(p livePart, b liveBatch, skipped eventstore.Position) bool {
		moved, err := r.advanceIdle(ctx, e, p, b, skipped)
		require.NoError(t, err)
		return moved
	}

	require.True(t, moves(p, batch(1, 5), 0), "the first batch")
	assert.Equal(t, eventstore.Position(5), checkpoint())
	assert.Equal(t, []string{"counter:5"}, notified(), "announced as advanceNotify does")

	refused := []struct {
		name string
		run  func() bool
	}{
		{"a redelivery", func() bool { return moves(p, batch(3, 5), 0) }},
		{"a gap before the batch", func() bool { return moves(p, batch(8, 9), 0) }},
		{"another build", func() bool { return moves(livePart{build: "other", n: 1}, batch(6, 9), 0) }},
		{"another partition count", func() bool { return moves(livePart{build: p.build, n: 2}, batch(6, 9), 0) }},
		{"the projection's lock held (a swap, a catch-up)", func() (moved bool) {
			held(e.lockKey, func() { moved = moves(p, batch(6, 9), 0) })
			return moved
		}},
		{"the partition's lock held (another applier)", func() (moved bool) {
			held(r.partLockKey(e, 0), func() { moved = moves(p, batch(6, 9), 0) })
			return moved
		}},
		{"stalled", func() (moved bool) {
			changed(`UPDATE `+r.sqls.registry+` SET state = 'stalled' WHERE name = $1`,
				`UPDATE `+r.sqls.registry+` SET state = 'running' WHERE name = $1`, func() { moved = moves(p, batch(6, 9), 0) })
			return moved
		}},
		{"another version", func() (moved bool) {
			changed(`UPDATE `+r.sqls.builds+` b SET version = 2 FROM `+r.sqls.registry+` r WHERE r.name = $1 AND b.schema_name = r.live_build`,
				`UPDATE `+r.sqls.builds+` b SET version = 1 FROM `+r.sqls.registry+` r WHERE r.name = $1 AND b.schema_name = r.live_build`,
				func() { moved = moves(p, batch(6, 9), 0) })
			return moved
		}},
	}
	for _, c := range refused {
		assert.False(t, c.run(), c.name)
		assert.Equal(t, eventstore.Position(5), checkpoint(), c.name)
		assert.Empty(t, notified(), c.name)
	}

	require.True(t, moves(p, batch(8, 9), 7), "after a batch acked without a transaction (skipped), no gap")
	assert.Equal(t, eventstore.Position(9), checkpoint())
	assert.Equal(t, []string{"counter:9"}, notified())

	var sync string
	require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&sync)
	}))
	assert.Equal(t, "on", sync, "the idle advance's settings stay in its own transaction")
}
