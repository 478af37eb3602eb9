package readmodel

import (
	"context"
	"fmt"
	"testing"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/pgtest"
)

// The binary COPY writer round-trips every type it writes, as PostgreSQL reads it back.
func TestCopyRowsRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	_, err := pool.Exec(ctx, `CREATE TABLE x (n int, a numeric, s text, u uuid, d date, ts timestamptz, b boolean, i2 smallint, i8 bigint, j jsonb)`)
	require.NoError(t, err)
	tbl := newTable("x", []string{"n"}, column{"n", "integer"}, column{"a", "numeric"}, column{"s", "text"},
		column{"u", "uuid"}, column{"d", "date"}, column{"ts", "timestamptz"}, column{"b", "boolean"},
		column{"i2", "smallint"}, column{"i8", "bigint"}, column{"j", "jsonb"})
	amounts := []string{"0", "0.00", "0.000", "79.99", "-79.99", "0.05", "-0.05", "0.00005", "1000", "10000", "100000000",
		"12.345", "-41.29", "99999999999999999.999", "123456789012345678901234.5", "-0.001", "1.10", "10000.0001"}
	var rows copyRows
	for i, a := range amounts {
		rows.row(len(tbl.cols))
		rows.int4(i)
		rows.numeric(decimal.RequireFromString(a))
		rows.textOrNull([]string{"", "héllo"}[i%2])
		rows.uuidOrNull([]uuid.UUID{uuid.Nil, uuid.MustParse("01940000-0000-7000-8000-000000000101")}[i%2])
		rows.dateOrNull([]domain.Date{{}, must(domain.ParseDate("1999-12-31"))}[i%2])
		rows.timestamptzOrNull([]time.Time{{}, time.Date(2026, 1, 2, 3, 4, 5, 678000000, time.UTC)}[i%2])
		rows.bool(i%2 == 1)
		rows.int2(-i)
		rows.int8(int64(i) << 40)
		rows.jsonb([]byte(`{"k":[1,"x"]}`))
	}
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tbl.insert(ctx, tx, &rows) })
	require.NoError(t, err)
	var got []string
	r, err := pool.Query(ctx, `SELECT a::text FROM x ORDER BY n`)
	require.NoError(t, err)
	got, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, amounts, got)
	var other []string
	r, err = pool.Query(ctx, `SELECT concat_ws('|', s, u, d, ts AT TIME ZONE 'UTC', b, i2, i8, j) FROM x WHERE n IN (0, 1) ORDER BY n`)
	require.NoError(t, err)
	other, err = pgx.CollectRows(r, pgx.RowTo[string])
	require.NoError(t, err)
	require.Equal(t, []string{"f|0|0|{\"k\": [1, \"x\"]}",
		"héllo|01940000-0000-7000-8000-000000000101|1999-12-31|2026-01-02 03:04:05.678|t|-1|1099511627776|{\"k\": [1, \"x\"]}"}, other)
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// Rows sent by COPY hand their buffer back for the next rows to be written in (the pool); rows
// whose COPY failed do not (the driver's reading goroutine may outlive a failed COPY), and
// every row lands as written, batch after batch on reused buffers.
func TestCopyRowsReuseBuffersOnlyOnceSent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t)
	_, err := pool.Exec(ctx, `CREATE TABLE x (n int PRIMARY KEY, s text)`)
	require.NoError(t, err)
	tbl := newTable("x", []string{"n"}, column{"n", "integer"}, column{"s", "text"})
	write := func(from, to int) *copyRows {
		var rows copyRows
		for n := from; n < to; n++ {
			rows.row(len(tbl.cols))
			rows.int4(n)
			rows.text(fmt.Sprintf("row %d", n))
		}
		return &rows
	}
	for b := range 5 { // each batch after the first writes into a buffer handed back
		rows := write(b*100, b*100+100)
		require.NoError(t, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tbl.insert(ctx, tx, rows) }))
		require.Nil(t, rows.buf, "released")
		require.Zero(t, rows.rows)
	}

	dup := write(0, 3) // keys taken: the COPY fails
	failed := unsafe.SliceData(dup.buf)
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return tbl.insert(ctx, tx, dup) })
	require.Error(t, err)
	for range 8 {
		if b, ok := copyBufs.Get().(*[]byte); ok {
			require.NotSame(t, failed, unsafe.SliceData(*b), "a buffer whose COPY failed went back to the pool")
		}
	}

	var count int
	var sum int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*), sum(n) FROM x WHERE s = 'row ' || n`).Scan(&count, &sum))
	require.Equal(t, 500, count)
	require.Equal(t, int64(499*500/2), sum)
}
