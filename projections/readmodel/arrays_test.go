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

// sameRows requires tables a and b to hold the same rows.
func sameRows(ctx context.Context, t *testing.T, tx pgx.Tx, a, b string) {
	t.Helper()
	var diff, n int
	require.NoError(t, tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM ((TABLE `+a+` EXCEPT ALL TABLE `+b+`)
		UNION ALL (TABLE `+b+` EXCEPT ALL TABLE `+a+`)) d), (SELECT count(*) FROM `+a+`)`).Scan(&diff, &n))
	require.Zero(t, diff, "rows of %s and %s differ", a, b)
	require.Positive(t, n)
}

// A write over arrays (small batches) leaves exactly the rows COPY and the staging table
// (large batches) do: inserts, updates and upserts of random rows of every column type,
// NULLs included, each batch's changed-row count the same.
func TestArraysWriteWhatCopyWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	viaArrays, viaCopy := everyType(ctx, t, pool, "via_arrays"), everyType(ctx, t, pool, "via_copy")
	add := `DO UPDATE SET a = t.a + EXCLUDED.a, s = EXCLUDED.s, j = EXCLUDED.j`
	upA, upC := viaArrays.upsertWith(add), viaCopy.upsertWith(add)
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
			_, err := viaArrays.runArrays(ctx, tx, &rows, viaArrays.insertSQL)
			require.NoError(t, err)
			require.NoError(t, viaCopy.copyInto(ctx, tx, viaCopy.name, &rows))
			randomRows(r, &rows, changed)
			na, err := viaArrays.runArrays(ctx, tx, &rows, viaArrays.updateSQL.arrays)
			require.NoError(t, err)
			nc, err := viaCopy.stageAndRun(ctx, tx, &rows, viaCopy.updateSQL.staged)
			require.NoError(t, err)
			require.Equal(t, int64(len(changed)), na)
			require.Equal(t, nc, na)
			randomRows(r, &rows, upserted)
			na, err = viaArrays.runArrays(ctx, tx, &rows, upA.arrays)
			require.NoError(t, err)
			nc, err = viaCopy.stageAndRun(ctx, tx, &rows, upC.staged)
			require.NoError(t, err)
			require.Equal(t, nc, na)
			sameRows(ctx, t, tx, viaArrays.name, viaCopy.name)
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
// a small write never touches the session's temporary staging table.
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
