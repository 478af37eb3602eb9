package readmodel

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// stagedTable creates table x (k int PRIMARY KEY, v text) in a schema of its own, and returns
// it with a connection held for the test.
func stagedTable(t *testing.T) (*table, *pgxpool.Conn) {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	_, err := pool.Exec(ctx, `CREATE TABLE x (k int PRIMARY KEY, v text NOT NULL)`)
	require.NoError(t, err)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	t.Cleanup(conn.Release)
	return newTable("x", []string{"k"}, column{"k", "integer"}, column{"v", "text"}), conn
}

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

// upsertOne stages the row (k, v) of x and moves it into x in tx.
func upsertOne(ctx context.Context, tx pgx.Tx, tbl *table, k int, v string) error {
	var rows copyRows
	rows.row(len(tbl.cols))
	rows.int4(k)
	rows.textOrNull(v)
	return tbl.upsertUsing(ctx, tx, &rows, tbl.upsertWith("DO UPDATE SET v = EXCLUDED.v"))
}

// TestStageIsEmptiedByEachUseAndTruncatedNowAndThen: the session's stage is not ON COMMIT
// DELETE ROWS (whose truncations at every commit cost PostgreSQL 9 % of its CPU on distinct
// customers' commands); each use empties it in its own transaction, savepoints included,
// and a connection that keeps staging rows truncates it every stageTruncateBytes of them,
// so it never grows much past that.
func TestStageIsEmptiedByEachUseAndTruncatedNowAndThen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tbl, conn := stagedTable(t)

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
		if err := upsertOne(ctx, sp, tbl, 1, "rolled back"); err != nil {
			return err
		}
		if err := sp.Rollback(ctx); err != nil {
			return err
		}
		return upsertOne(ctx, tx, tbl, 2, "kept")
	}))
	var v1, v2 string
	require.NoError(t, conn.QueryRow(ctx, `SELECT (SELECT v FROM x WHERE k = 1), (SELECT v FROM x WHERE k = 2)`).Scan(&v1, &v2))
	assert.Equal(t, "a", v1, "the rolled-back use changed nothing")
	assert.Equal(t, "kept", v2)

	// A rolled-back transaction's staged rows are counted too, and the stage stays bounded
	// over many uses.
	err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		if err := upsertOne(ctx, tx, tbl, 3, "never"); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	require.Error(t, err)
	wide := strings.Repeat("b", 200)
	const perUse = 500 // rows of about 230 bytes: some 15 pages a use
	uses := 3 * stageTruncateBytes / (perUse * 200)
	var most int64
	for round := range uses {
		stageRows(ctx, t, conn, tbl, round*perUse, perUse, wide)
		n, pages := stageSize()
		require.Zero(t, n)
		most = max(most, pages)
	}
	// Without the truncations the stage would hold every use's pages (some 450); with them,
	// about stageTruncateBytes of rows (128 pages of data) and one use more at most.
	assert.LessOrEqual(t, most, int64(stageTruncateBytes/8192*3/2+20), "pages of the stage at most")
	var count int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM x WHERE v = $1`, wide).Scan(&count))
	assert.Equal(t, int64(uses*perUse), count)
}

// TestStageIsCreatedInTheCopysMessage: a session's first use of a stage creates it in the
// COPY's own message, and a statement failing ahead of a COPY fails the COPY with its error,
// the copy data dropped, the connection fine once the transaction rolls back.
func TestStageIsCreatedInTheCopysMessage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tbl, conn := stagedTable(t)
	var exists bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, tbl.stage).Scan(&exists))
	require.False(t, exists, "a new session has no stage")

	stageRows(ctx, t, conn, tbl, 0, 3, "a")
	var n int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM x WHERE v = 'a'`).Scan(&n))
	assert.Equal(t, 3, n)

	var rows copyRows
	rows.row(len(tbl.cols))
	rows.int4(10)
	rows.textOrNull("b")
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	err = tbl.copyAfter(ctx, tx, "SELECT 1/0", tbl.stage, &rows)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "division by zero")
	require.NoError(t, tx.Rollback(ctx))
	stageRows(ctx, t, conn, tbl, 10, 2, "c")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM x`).Scan(&n))
	assert.Equal(t, 5, n, "the connection works on after the failed COPY")
}
