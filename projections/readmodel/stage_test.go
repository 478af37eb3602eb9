package readmodel

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// stageRows stages n rows (k, v) of table tbl into x's upsert in one transaction on conn.
func stageRows(ctx context.Context, t *testing.T, conn *pgxpool.Conn, tbl *table, from, n int, v string) {
	t.Helper()
	var rows copyRows
	for i := range n {
		rows.row(len(tbl.cols))
		rows.int4(from + i)
		rows.textOrNull(v)
	}
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		return tbl.upsertUsing(ctx, tx, &rows, tbl.upsertWith("DO UPDATE SET v = EXCLUDED.v"))
	}))
}

// TestStageIsEmptiedByEachUseAndTruncatedNowAndThen: the session's stage is not ON COMMIT
// DELETE ROWS (whose truncations at every commit cost PostgreSQL 9 % of its CPU on distinct
// customers' commands); each use empties it in its own transaction, savepoints included,
// and a connection that keeps staging rows truncates it every stageTruncateRows rows, so
// it never grows past about that many rows' pages.
func TestStageIsEmptiedByEachUseAndTruncatedNowAndThen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	_, err := pool.Exec(ctx, `CREATE TABLE x (k int PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	tbl := newTable("x", []string{"k"}, column{"k", "integer"}, column{"v", "text"})
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()

	stageSize := func() (rows, pages int64) {
		require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+tbl.stage+`),
			pg_relation_size('`+tbl.stage+`') / current_setting('block_size')::int`).Scan(&rows, &pages))
		return rows, pages
	}
	stageRows(ctx, t, conn, tbl, 0, 100, "a")
	n, _ := stageSize()
	assert.Zero(t, n, "the stage is empty after its use")
	// A use that rolls back to a savepoint, then another in the same transaction: the second
	// sees none of the first's rows, and what commits is the second's.
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		var rows copyRows
		rows.row(2)
		rows.int4(1)
		rows.textOrNull("rolled back")
		if err := tbl.upsertUsing(ctx, sp, &rows, tbl.upsertWith("DO UPDATE SET v = EXCLUDED.v")); err != nil {
			return err
		}
		if err := sp.Rollback(ctx); err != nil {
			return err
		}
		rows = copyRows{}
		rows.row(2)
		rows.int4(2)
		rows.textOrNull("kept")
		return tbl.upsertUsing(ctx, tx, &rows, tbl.upsertWith("DO UPDATE SET v = EXCLUDED.v"))
	}))
	var v1, v2 string
	require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT v FROM x WHERE k = 1), (SELECT v FROM x WHERE k = 2)`).Scan(&v1, &v2))
	assert.Equal(t, "a", v1, "the rolled-back use changed nothing")
	assert.Equal(t, "kept", v2)

	// A rolled-back transaction's staged rows are counted too, and the stage stays bounded
	// over many uses.
	err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		var rows copyRows
		rows.row(2)
		rows.int4(3)
		rows.textOrNull("never")
		if err := tbl.upsertUsing(ctx, tx, &rows, tbl.upsertWith("DO UPDATE SET v = EXCLUDED.v")); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	require.Error(t, err)
	var most int64
	for round := range 3 * stageTruncateRows / 500 {
		stageRows(ctx, t, conn, tbl, round*500, 500, "b")
		n, pages := stageSize()
		require.Zero(t, n)
		most = max(most, pages)
	}
	// 500 rows of (int, short text) fill about three 8 kB pages: the stage never holds much
	// more than stageTruncateRows rows' worth.
	assert.LessOrEqual(t, most, int64(stageTruncateRows/500+2)*4, "pages of the stage at most")
	var count int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM x WHERE v = 'b'`).Scan(&count))
	assert.Equal(t, int64(3*stageTruncateRows/500*500), count)
}
