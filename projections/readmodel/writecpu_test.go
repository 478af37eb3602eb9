package readmodel

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// backendCPU is the CPU time PostgreSQL's backend pid has used (its /proc stat: the server
// must run on this host).
func backendCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	require.NoError(t, err)
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.Atoi(f[11])
	s, _ := strconv.Atoi(f[12])
	return time.Duration(u+s) * 10 * time.Millisecond
}

// TestWriteBackendCPU measures (DOTMAC_MEASURE_WRITE_CPU=1, PostgreSQL on this host) the CPU
// PostgreSQL's backend spends per upsert of 80 rows with its commit, on a session that has
// six more staging tables as a pooled connection of the server does: staged (CREATE TEMP
// TABLE IF NOT EXISTS, COPY, merge, DELETE, and the commit's truncation of every ON COMMIT
// DELETE ROWS table) against one prepared statement over arrays on its generic plan. On
// 2026-12-05 01:37 UTC, a loaded host: stage 2.67 and 2.33 ms, arrays 1.03 and 0.73 ms.
func TestWriteBackendCPU(t *testing.T) {
	if os.Getenv("DOTMAC_MEASURE_WRITE_CPU") == "" {
		t.Skip("set DOTMAC_MEASURE_WRITE_CPU=1 to measure")
	}
	ctx := context.Background()
	pool := pgtest.Pool(t)
	tbl := everyType(ctx, t, pool, "cpu_t")
	up := tbl.upsertWith(`DO UPDATE SET a = EXCLUDED.a, s = EXCLUDED.s, j = EXCLUDED.j`)
	// other stages on the session, as a pooled connection of the server has
	others := []*table{}
	for i := range 6 {
		others = append(others, everyType(ctx, t, pool, fmt.Sprintf("cpu_o%d", i)))
	}
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	var pid int
	require.NoError(t, conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&pid))
	r := rand.New(rand.NewPCG(1, 2))
	var rows copyRows
	keys := make([]int, 20000)
	for i := range keys {
		keys[i] = i
	}
	randomRows(r, &rows, keys)
	require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error { return tbl.insert(ctx, tx, &rows) }))
	for _, o := range others {
		require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, o.createStage)
			return err
		}))
	}
	n, per := 300, 80
	for _, mode := range []string{"stage", "arrays", "stage", "arrays"} {
		start := backendCPU(t, pid)
		t0 := time.Now()
		for range n {
			ks := make([]int, per)
			for i := range ks {
				ks[i] = r.IntN(20000)
			}
			randomRows(r, &rows, uniq(ks))
			require.NoError(t, pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
				var err error
				if mode == "stage" {
					_, err = tbl.stageAndRun(ctx, tx, &rows, up.staged)
				} else {
					_, err = tbl.runArrays(ctx, tx, &rows, up.arrays)
				}
				return err
			}))
		}
		cpu := backendCPU(t, pid) - start
		t.Logf("%s: backend CPU per write of %d rows (with its commit): %v; wall %v", mode, per, cpu/time.Duration(n), time.Since(t0)/time.Duration(n))
	}
}
