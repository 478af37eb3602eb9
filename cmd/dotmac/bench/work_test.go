package bench

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

func TestWorkPerCommand(t *testing.T) {
	t.Parallel()
	start := workSample{commits: 100, rollbacks: 1, rowsWritten: 1000, buffers: 5000, bufferReads: 70, backendWrites: 9,
		walBytes: 1 << 20, walRecords: 400, fpi: 2, allocated: 1e6, ok: true, wal: true, heap: true, bgwriter: true}
	end := workSample{commits: 145, rollbacks: 1, rowsWritten: 2000, buffers: 17000, bufferReads: 370, backendWrites: 59,
		walBytes: 1<<20 + 500_000, walRecords: 2900, fpi: 3, allocated: 8.2e6, ok: true, wal: true, heap: true, bgwriter: true}
	assert.Equal(t, &Work{Commits: 0.45, RowsWritten: 10, BufferAccesses: 120, BufferReads: 3, BackendWrites: 0.5, WALBytes: 5000,
		WALRecords: 25, FullPageImages: 0.01, ServerAllocatedBytes: 72000}, workPerCommand(start, end, 100))

	noBgwriter := end
	noBgwriter.bgwriter = false // PostgreSQL 17 moved buffers_backend out of pg_stat_bgwriter
	assert.Zero(t, workPerCommand(start, noBgwriter, 100).BackendWrites)

	noWAL, noHeap := end, end
	noWAL.wal, noHeap.heap = false, false
	w := workPerCommand(start, noWAL, 100)
	assert.Zero(t, w.WALRecords, "pg_stat_wal unread at one end: left out")
	assert.Equal(t, 5000.0, w.WALBytes, "the insert position is read with the database's counters")
	assert.Zero(t, workPerCommand(start, noHeap, 100).ServerAllocatedBytes)

	stale := end
	stale.commits = 90 // a counter reset (pg_stat_reset) between the two samples
	assert.Zero(t, workPerCommand(start, stale, 100).Commits, "never negative")

	unread := end
	unread.ok = false
	assert.Nil(t, workPerCommand(start, unread, 100), "the database's counters unread")
	assert.Nil(t, workPerCommand(start, end, 0), "no commands answered")
}

// TestSampleWorkCountsTheDatabasesWork reads the counters before and after transactions of its
// own: they count at least those (other tests share the database, so possibly more).
func TestSampleWorkCountsTheDatabasesWork(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool := pgtest.Pool(t)
	r := &run{pool: pool}
	before := r.sampleWork(ctx, nil)
	require.True(t, before.ok)
	assert.False(t, before.heap, "no server: no heap figure")

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `CREATE TABLE work_rows (id int PRIMARY KEY, note text)`)
	require.NoError(t, err)
	for i := range 10 {
		_, err := conn.Exec(ctx, `INSERT INTO work_rows SELECT g, repeat('x', 100) FROM generate_series($1::int, $1::int + 4) g`, i*5)
		require.NoError(t, err)
	}
	// A backend reports its counts when idle, at most once a second: ask for it now.
	_, err = conn.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
	require.NoError(t, err)
	conn.Release()

	var w *Work
	require.Eventually(t, func() bool {
		w = workPerCommand(before, r.sampleWork(ctx, nil), 10)
		return w != nil && w.Commits >= 1 && w.RowsWritten >= 5
	}, 30*time.Second, 100*time.Millisecond, "11 commits and 50 rows written")
	assert.Greater(t, w.WALBytes, 500.0, "50 rows of 100 bytes went through the WAL")
	assert.Positive(t, w.BufferAccesses)
}
