package readmodel

import (
	"context"
	"fmt"
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

// benchTableRows is how many rows journal_lines holds before BenchmarkWriteRows writes.
const benchTableRows = 100_000

// journalRows encodes n journal lines at positions from, from+1, ...
func journalRows(c *copyRows, from, n int64, memo string) {
	c.reset()
	date := must(domain.ParseDate("2026-01-31"))
	customer := uuid.MustParse("01940000-0000-7000-8000-000000000101")
	for p := from; p < from+n; p++ {
		c.row(12)
		c.text("acme")
		c.int8(p)
		c.int2(1)
		c.uuid(customer)
		c.text("PaymentRecorded")
		c.date(date)
		c.int2(1100)
		c.numeric(decimal.RequireFromString("79.99"))
		c.numeric(decimal.RequireFromString("0.00"))
		c.text("USD")
		c.uuid(customer)
		c.text(memo)
	}
}

// BenchmarkWriteRows compares, per batch size, COPY with one statement over arrays for new
// rows, and the staged update with one over arrays for changed rows, each in a transaction
// of its own (the commit included: it truncates the ON COMMIT DELETE ROWS stages).
func BenchmarkWriteRows(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b)
	_, err := pool.Exec(ctx, journalSchema)
	require.NoError(b, err)
	var c copyRows
	journalRows(&c, 0, benchTableRows, "seed")
	require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return journalTable.copyInto(ctx, tx, journalTable.name, &c) }))
	_, err = pool.Exec(ctx, "ANALYZE journal_lines")
	require.NoError(b, err)
	next := int64(benchTableRows)
	for _, n := range []int64{1, 16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("insert/copy/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, func(ctx context.Context, tx pgx.Tx) error {
				journalRows(&c, next, n, "new")
				next += n
				return journalTable.copyInto(ctx, tx, journalTable.name, &c)
			})
		})
		b.Run(fmt.Sprintf("insert/arrays/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, func(ctx context.Context, tx pgx.Tx) error {
				journalRows(&c, next, n, "new")
				next += n
				_, err := journalTable.runArrays(ctx, tx, &c, journalTable.insertSQL)
				return err
			})
		})
		var at int64
		updated := func(n int64) {
			journalRows(&c, at, n, time.Now().String())
			at = (at + n) % (benchTableRows - n)
		}
		b.Run(fmt.Sprintf("update/staged/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, func(ctx context.Context, tx pgx.Tx) error {
				updated(n)
				_, err := journalTable.stageAndRun(ctx, tx, &c, journalTable.updateSQL.staged)
				return err
			})
		})
		b.Run(fmt.Sprintf("update/arrays/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, func(ctx context.Context, tx pgx.Tx) error {
				updated(n)
				_, err := journalTable.runArrays(ctx, tx, &c, journalTable.updateSQL.arrays)
				return err
			})
		})
	}
}

func benchWrite(b *testing.B, pool *pgxpool.Pool, write func(context.Context, pgx.Tx) error) {
	b.Helper()
	ctx := context.Background()
	for b.Loop() {
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return write(ctx, tx) }))
	}
}
