package bench

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestPgbenchLatencies reads every transaction pgbench logged, from each thread's file, and
// names the file and line of one it cannot read.
func TestPgbenchLatencies(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, text string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o600))
	}
	write("tx.4242", "0 0 1500 0 1796591235 123456\n1 0 2500 0 1796591235 223456\n")
	write("tx.4242.1", "2 0 40000 0 1796591235 323456\n")
	write("insert.sql", "not a log\n")
	lat, err := pgbenchLatencies(dir)
	require.NoError(t, err)
	assert.ElementsMatch(t, []time.Duration{1500 * time.Microsecond, 2500 * time.Microsecond, 40 * time.Millisecond}, lat)

	_, err = pgbenchLatencies(t.TempDir())
	require.ErrorContains(t, err, "pgbench logged no transaction")

	bad := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(bad, "tx.1"), []byte("0 0 1500 0 1 2\n0 1 fast 0 1 2\n"), 0o600))
	_, err = pgbenchLatencies(bad)
	require.ErrorContains(t, err, "tx.1 line 2: latency \"fast\" is not a whole number of microseconds")
	require.NoError(t, os.WriteFile(filepath.Join(bad, "tx.1"), []byte("0 0\n"), 0o600))
	_, err = pgbenchLatencies(bad)
	require.ErrorContains(t, err, "tx.1 line 1: 2 fields")
}

// TestInsertsMeasureLatencies: both ways of running the baseline's transaction, pgx's and
// pgbench's (where installed), give a rate and latencies, on the database they were pointed at.
func TestInsertsMeasureLatencies(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	schemaURL := pgtest.SchemaURL(t)
	conn, err := pgx.Connect(ctx, schemaURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE TABLE bench_baseline (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now())`)
	require.NoError(t, err)
	count := func() int64 {
		var n int64
		require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM bench_baseline`).Scan(&n))
		return n
	}

	b, err := pgxInserts(ctx, schemaURL, 4, 300*time.Millisecond, false)
	require.NoError(t, err)
	assert.Positive(t, b.TxPerS)
	assert.Zero(t, b.P99MS, "not timed")
	b, err = pgxInserts(ctx, schemaURL, 4, 300*time.Millisecond, true)
	require.NoError(t, err)
	assert.Positive(t, b.TxPerS)
	assert.Positive(t, b.P50MS)
	assert.GreaterOrEqual(t, b.P99MS, b.P50MS)
	afterPgx := count()
	assert.Positive(t, afterPgx)

	bin := findPgbench()
	if bin == "" {
		t.Log("pgbench is not installed: only the pgx baseline checked")
		return
	}
	// pgbench speaks libpq, which takes the schema through options, not search_path.
	u, err := url.Parse(schemaURL)
	require.NoError(t, err)
	q := u.Query()
	schema := q.Get("search_path")
	q.Del("search_path")
	q.Set("options", "-csearch_path="+schema)
	u.RawQuery = q.Encode()
	b, err = runPgbench(ctx, bin, u.String(), 4, time.Second, false)
	require.NoError(t, err)
	assert.Positive(t, b.TxPerS)
	assert.Zero(t, b.P99MS, "not timed")
	b, err = runPgbench(ctx, bin, u.String(), 4, time.Second, true)
	require.NoError(t, err)
	assert.Positive(t, b.TxPerS)
	assert.Positive(t, b.P50MS)
	assert.GreaterOrEqual(t, b.P99MS, b.P50MS)
	assert.Greater(t, count(), afterPgx, "pgbench inserted into the test's own schema")
}
