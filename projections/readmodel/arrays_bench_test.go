package readmodel

import (
	"context"
	"fmt"
	"net/url"
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

// benchJournal is journal_lines under a name of its own, so that pg_stat_statements tells
// the benchmark's statements from the tests'.
var benchJournal = newTable("bench_journal_lines", journalTable.key, journalTable.cols...)

// BenchmarkWriteRows compares, per batch size, COPY with one statement over arrays for new
// rows, and the staged update with one over arrays for changed rows, each in a transaction
// of its own (the commit included: it truncates the ON COMMIT DELETE ROWS stages). Besides
// the time per batch it reports the server's execution time per row (server-us/row, from
// pg_stat_statements where loaded), the robust figure on a busy machine.
func BenchmarkWriteRows(b *testing.B) {
	ctx := context.Background()
	pool := pgtest.Pool(b)
	_, err := pool.Exec(ctx, strings.ReplaceAll(journalSchema, "journal_lines", benchJournal.name))
	require.NoError(b, err)
	journalTable := benchJournal
	var c copyRows
	journalRows(&c, 0, benchTableRows, "seed")
	require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return journalTable.copyInto(ctx, tx, journalTable.name, &c) }))
	_, err = pool.Exec(ctx, "ANALYZE "+benchJournal.name)
	require.NoError(b, err)
	next := int64(benchTableRows)
	for _, n := range []int64{1, 16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("insert/copy/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
				journalRows(&c, next, n, "new")
				next += n
				return journalTable.copyInto(ctx, tx, journalTable.name, &c)
			})
		})
		b.Run(fmt.Sprintf("insert/arrays/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
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
			benchWrite(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
				updated(n)
				_, err := journalTable.stageAndRun(ctx, tx, &c, journalTable.updateSQL.staged)
				return err
			})
		})
		b.Run(fmt.Sprintf("update/arrays/rows=%d", n), func(b *testing.B) {
			benchWrite(b, pool, n, func(ctx context.Context, tx pgx.Tx) error {
				updated(n)
				_, err := journalTable.runArrays(ctx, tx, &c, journalTable.updateSQL.arrays)
				return err
			})
		})
	}
}

func benchWrite(b *testing.B, pool *pgxpool.Pool, rows int64, write func(context.Context, pgx.Tx) error) {
	b.Helper()
	ctx := context.Background()
	before := serverMillis(ctx, b)
	for b.Loop() {
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return write(ctx, tx) }))
	}
	if before >= 0 {
		b.ReportMetric((serverMillis(ctx, b)-before)*1000/float64(int64(b.N)*rows), "server-us/row")
	}
}

// serverMillis is the execution time so far of the statements naming bench_journal_lines
// (or its stage; not the pipelined set_config and RESETs), -1 without pg_stat_statements
// (whose view is in the database postgres).
func serverMillis(ctx context.Context, b *testing.B) float64 {
	u, err := url.Parse(pgtest.ServerURL(b))
	require.NoError(b, err)
	u.Path = "/postgres"
	conn, err := pgx.Connect(ctx, u.String())
	require.NoError(b, err)
	defer func() { _ = conn.Close(ctx) }()
	var ms float64
	err = conn.QueryRow(ctx, `SELECT coalesce(sum(total_exec_time), 0) FROM pg_stat_statements s
		JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = $1 AND query LIKE '%bench_journal_lines%'`,
		pgtest.Database).Scan(&ms)
	if err != nil {
		return -1
	}
	return ms
}
