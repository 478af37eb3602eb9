package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/db"
)

// baselineClients is pgbench's client count in the baseline.
const baselineClients = 16

// baselineInserts measures single-row INSERT transactions per second with 16 clients: with
// pgbench where installed, else the same transaction driven through pgx.
func (r *run) baselineInserts(ctx context.Context) (Baseline, error) {
	r.cfg.Progress("baseline: single-row inserts", 0, 0)
	if _, err := r.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_baseline (id bigserial PRIMARY KEY, v text NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return Baseline{}, err
	}
	if bin := findPgbench(); bin != "" {
		tps, err := runPgbench(ctx, bin, r.url, r.cfg.Duration)
		if err == nil {
			return Baseline{TxPerS: tps, Tool: "pgbench"}, nil
		}
		r.cfg.Logger.Warn().Err(err).Msg("pgbench failed; measuring the baseline with pgx")
	}
	tps, err := pgxInserts(ctx, r.url, r.cfg.Duration)
	return Baseline{TxPerS: tps, Tool: "pgx"}, err
}

func findPgbench() string {
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
	sort.Strings(matches)
	if len(matches) == 0 {
		return ""
	}
	return matches[len(matches)-1]
}

var tpsPattern = regexp.MustCompile(`tps = ([0-9.]+)`)

func runPgbench(ctx context.Context, bin, url string, d time.Duration) (float64, error) {
	script, err := os.CreateTemp("", "dotmac-bench-*.sql")
	if err != nil {
		return 0, err
	}
	defer os.Remove(script.Name())
	if _, err := script.WriteString("INSERT INTO bench_baseline (v) VALUES ('x');\n"); err != nil {
		return 0, err
	}
	_ = script.Close()
	secs := max(1, int(d.Seconds()))
	cmd := exec.CommandContext(ctx, bin, "-n", "-c", strconv.Itoa(baselineClients), "-j", "2", "-T", strconv.Itoa(secs), "-f", script.Name(), url) // #nosec G204 -- our own arguments
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := tpsPattern.FindSubmatch(out)
	if m == nil {
		return 0, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	return strconv.ParseFloat(string(m[1]), 64)
}

// pgxInserts reproduces pgbench's transaction: 16 connections, each inserting one row per
// (autocommitted) transaction, for d.
func pgxInserts(ctx context.Context, url string, d time.Duration) (float64, error) {
	pool, err := db.Open(ctx, url, db.Options{AppName: "dotmac-bench-baseline", MaxConns: baselineClients})
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	return countFor(ctx, d, baselineClients, func(ctx context.Context) error {
		_, err := pool.Exec(ctx, `INSERT INTO bench_baseline (v) VALUES ('x')`)
		return err
	})
}

// countFor runs op on workers goroutines for d and returns successful ops per second.
func countFor(ctx context.Context, d time.Duration, workers int, op func(context.Context) error) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var n atomic.Int64
	var firstErr error
	var once sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := op(ctx); err != nil {
					if ctx.Err() == nil {
						once.Do(func() { firstErr = err; cancel() })
					}
					return
				}
				n.Add(1)
			}
		})
	}
	wg.Wait()
	return float64(n.Load()) / time.Since(start).Seconds(), firstErr
}

// sqlAggregate times one set-based aggregate over every stored event: the physical limit a
// rebuild is compared with. It returns events per second.
func sqlAggregate(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	start := time.Now()
	rows, err := pool.Query(ctx, `SELECT type, count(*), sum(octet_length(data::text)) FROM es_events GROUP BY type`)
	if err != nil {
		return 0, err
	}
	var total int64
	for rows.Next() {
		var typ string
		var n, bytes int64
		if err := rows.Scan(&typ, &n, &bytes); err != nil {
			rows.Close()
			return 0, err
		}
		total += n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	return float64(total) / time.Since(start).Seconds(), nil
}

// feedReadRate is the events/s of reading every event's envelope columns out of PostgreSQL in
// position order and throwing them away (COPY ... TO STDOUT, binary): what any check of the
// whole feed must at least do, so the limit verify runs against.
func feedReadRate(ctx context.Context, pool *pgxpool.Pool) (float64, error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	start := time.Now()
	tag, err := conn.Conn().PgConn().CopyTo(ctx, io.Discard, `COPY (SELECT position, event_id, stream_id, version, type,
schema_version, data, metadata, hash FROM es_events ORDER BY position) TO STDOUT (FORMAT binary)`)
	if err != nil {
		return 0, fmt.Errorf("read the feed with COPY: %w", err)
	}
	return float64(tag.RowsAffected()) / time.Since(start).Seconds(), nil
}
