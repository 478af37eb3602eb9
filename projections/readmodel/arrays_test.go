package readmodel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/pgtest"
)

// everyType is a table of every column type tables use, created as name.
func everyType(ctx context.Context, t *testing.T, pool *pgxpool.Pool, name string) *table {
	t.Helper()
	_, err := pool.Exec(ctx, `CREATE TABLE `+name+` (n int PRIMARY KEY, a numeric, s text, u uuid, d date,
		ts timestamptz, b boolean, i2 smallint, i8 bigint, j jsonb)`)
	require.NoError(t, err)
	return newTable(name, []string{"n"}, column{"n", "integer"}, column{"a", "numeric"}, column{"s", "text"},
		column{"u", "uuid"}, column{"d", "date"}, column{"ts", "timestamptz"}, column{"b", "boolean"},
		column{"i2", "smallint"}, column{"i8", "bigint"}, column{"j", "jsonb"})
}

// randomRows encodes a row of random values, NULLs among them, for each of keys.
func randomRows(r *rand.Rand, c *copyRows, keys []int) {
	c.reset()
	texts := []string{"", "héllo", "a|b", "multi\nline", strings.Repeat("x", 300)}
	for _, k := range keys {
		c.row(10)
		c.int4(k)
		c.numeric(decimal.New(r.Int64N(2_000_000)-1_000_000, -r.Int32N(6)))
		if r.IntN(5) == 0 {
			c.null()
		} else {
			c.text(texts[r.IntN(len(texts))])
		}
		c.uuidOrNull([]uuid.UUID{uuid.Nil, uuid.New()}[r.IntN(2)])
		c.dateOrNull(domain.DateOf(time.Date(1990+r.IntN(80), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC)))
		c.timestamptzOrNull(time.UnixMicro(r.Int64N(4e15)).UTC())
		c.bool(r.IntN(2) == 0)
		c.int2(r.IntN(65536) - 32768)
		c.int8(r.Int64() - r.Int64())
		c.jsonb(fmt.Appendf(nil, `{"k":%d,"s":"%s"}`, r.IntN(100), texts[r.IntN(3)]))
	}
}

// sameTables requires tables a and b to hold the same rows.
func sameTables(ctx context.Context, t *testing.T, tx pgx.Tx, a, b string) {
	t.Helper()
	var diff, n int
	require.NoError(t, tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM ((TABLE `+a+` EXCEPT ALL TABLE `+b+`)
		UNION ALL (TABLE `+b+` EXCEPT ALL TABLE `+a+`)) d), (SELECT count(*) FROM `+a+`)`).Scan(&diff, &n))
	require.Zero(t, diff, "rows of %s and %s differ", a, b)
	require.Positive(t, n)
}

// An update or upsert over arrays (every live batch's) leaves exactly the rows the staging
// table (a rebuild's large writes) leaves: random rows of every column type, NULLs included,
// each write's changed-row count the same.
func TestArraysWriteWhatTheStageWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	viaArrays, viaStage := everyType(ctx, t, pool, "via_arrays"), everyType(ctx, t, pool, "via_stage")
	add := `DO UPDATE SET a = t.a + EXCLUDED.a, s = EXCLUDED.s, j = EXCLUDED.j`
	upA, upS := viaArrays.upsertWith(add), viaStage.upsertWith(add)
	r := rand.New(rand.NewPCG(1, 2))
	var rows copyRows
	for round := range 12 {
		n := 1 + r.IntN(300)
		keys := r.Perm(n)
		for i := range keys {
			keys[i] += round * 1000
		}
		var changed []int
		for _, k := range keys {
			if r.IntN(3) == 0 {
				changed = append(changed, k)
			}
		}
		if len(changed) == 0 {
			changed = keys[:1]
		}
		upserted := r.Perm(n + 50)[:20] // some there, some not
		for i := range upserted {
			upserted[i] += round * 1000
		}
		upserted = uniq(append(upserted, changed[0]))
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			randomRows(r, &rows, keys)
			require.NoError(t, viaArrays.insert(ctx, tx, &rows))
			require.NoError(t, viaStage.insert(ctx, tx, &rows))
			randomRows(r, &rows, changed)
			na, err := viaArrays.runArrays(ctx, tx, &rows, viaArrays.updateSQL.arrays)
			require.NoError(t, err)
			ns, err := viaStage.stageAndRun(ctx, tx, &rows, viaStage.updateSQL.staged)
			require.NoError(t, err)
			require.Equal(t, int64(len(changed)), na)
			require.Equal(t, ns, na)
			randomRows(r, &rows, upserted)
			na, err = viaArrays.runArrays(ctx, tx, &rows, upA.arrays)
			require.NoError(t, err)
			ns, err = viaStage.stageAndRun(ctx, tx, &rows, upS.staged)
			require.NoError(t, err)
			require.Equal(t, ns, na)
			sameTables(ctx, t, tx, viaArrays.name, viaStage.name)
			return nil
		}))
	}
}

func uniq(keys []int) []int {
	seen := map[int]bool{}
	out := keys[:0]
	for _, k := range keys {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// An update of a row that is not there is the invariant error whichever way the rows go;
// a write of up to arrayRowsMax rows never touches the session's temporary staging table.
func TestUpdateOfAMissingRowIsAnInvariantError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	tbl := everyType(ctx, t, pool, "x")
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{1, arrayRowsMax, arrayRowsMax + 1} {
		t.Run(fmt.Sprintf("rows=%d", n), func(t *testing.T) {
			conn, err := pool.Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			tx, err := conn.Begin(ctx)
			require.NoError(t, err)
			defer func() { _ = tx.Rollback(ctx) }()
			var rows copyRows
			keys := make([]int, n)
			for i := range keys {
				keys[i] = n*10 + i
			}
			randomRows(r, &rows, keys)
			require.NoError(t, tbl.insert(ctx, tx, &rows))
			keys[n-1] = -1
			randomRows(r, &rows, keys)
			err = tbl.update(ctx, tx, &rows)
			require.ErrorContains(t, err, "invariant: 1 of "+fmt.Sprint(n)+" rows of x to update are not there")
			var staged bool
			require.NoError(t, tx.QueryRow(ctx, `SELECT to_regclass('pg_temp.'||$1) IS NOT NULL`, tbl.stage).Scan(&staged))
			require.Equal(t, n > arrayRowsMax, staged)
		})
	}
}

// A connection prepares a write over arrays once and runs it on its generic plan, planned
// once, however many rows each call sends (a custom plan per call is what made the unnamed
// statements of a9a3cc2 cost PostgreSQL more than the stage); the transaction's settings are
// as they were after the write. A statement the server lost is prepared again by the next transaction.
func TestArrayWritesArePreparedAndPlannedOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	tbl := everyType(ctx, t, pool, "planned")
	up := tbl.upsertWith(`DO UPDATE SET a = EXCLUDED.a`)
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	r := rand.New(rand.NewPCG(5, 6))
	var rows copyRows
	write := func(n int) error {
		return pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			keys := make([]int, n)
			for i := range keys {
				keys[i] = r.IntN(500)
			}
			randomRows(r, &rows, uniq(keys))
			return tbl.upsertUsing(ctx, tx, &rows, up)
		})
	}
	for i := range 12 {
		require.NoError(t, write(1+i*20))
	}
	var generic, custom int64
	require.NoError(t, conn.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1`,
		up.arrays.name).Scan(&generic, &custom))
	require.Equal(t, int64(12), generic)
	require.Zero(t, custom)
	var prepared int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE name LIKE 'readmodel\_%'`).Scan(&prepared))
	require.Equal(t, 3, prepared, "the write, the settings and their restoring, once each")
	var mode, hash string
	require.NoError(t, conn.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('enable_hashjoin')`).Scan(&mode, &hash))
	require.Equal(t, []string{"auto", "on"}, []string{mode, hash}, "the settings outlived the transaction")
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `SELECT set_config('plan_cache_mode', 'force_custom_plan', true)`)
		require.NoError(t, err)
		randomRows(r, &rows, []int{1, 2, 3})
		require.NoError(t, tbl.upsertUsing(ctx, tx, &rows, up))
		require.NoError(t, tx.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('enable_hashjoin')`).Scan(&mode, &hash))
		require.Equal(t, []string{"force_custom_plan", "on"}, []string{mode, hash}, "the transaction's own settings after the write")
		return nil
	}))
	require.NoError(t, conn.QueryRow(ctx, `SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE name = $1`,
		up.arrays.name).Scan(&generic, &custom))
	require.Equal(t, []int64{13, 0}, []int64{generic, custom}, "the write ran on its generic plan in that transaction too")

	_, err = conn.Exec(ctx, `DEALLOCATE ALL`)
	require.NoError(t, err)
	require.ErrorContains(t, write(3), "does not exist")
	require.NoError(t, write(3), "prepared again")
}
