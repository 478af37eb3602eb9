package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/quantile"
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
	m, err := r.inserts(ctx, baselineClients, false)
	return Baseline{TxPerS: m.TxPerS, Tool: m.tool}, err
}

// tailBaseline measures the same transaction at the command scenarios' client count, with
// its latencies: how long the host's own simplest durable write waits at that concurrency,
// the yardstick of the commands' p99 in the same run.
func (r *run) tailBaseline(ctx context.Context) (*TailBaseline, error) {
	r.cfg.Progress(fmt.Sprintf("baseline: single-row inserts at %d clients", r.cfg.Clients), 0, 0)
	m, err := r.inserts(ctx, r.cfg.Clients, true)
	if err != nil {
		return nil, err
	}
	m.Clients = r.cfg.Clients
	return &m.TailBaseline, nil
}

// insertRun is one run of the single-row inserts: the rate and latencies, and the tool.
type insertRun struct {
	TailBaseline
	tool string
}

// inserts runs single-row INSERT transactions into bench_baseline on clients connections for
// the run's duration, with pgbench where installed (falling back to pgx when it fails), and
// times each one when timed is set. The 16-client baseline every ratio divides by is not
// timed: it stays the measurement it always was.
func (r *run) inserts(ctx context.Context, clients int, timed bool) (insertRun, error) {
	if bin := findPgbench(); bin != "" {
		m, err := runPgbench(ctx, bin, r.url, clients, r.cfg.Duration, timed)
		if err == nil {
			return insertRun{TailBaseline: m, tool: "pgbench"}, nil
		}
		r.cfg.Logger.Warn().Err(err).Msg("pgbench failed; measuring the baseline with pgx")
	}
	m, err := pgxInserts(ctx, r.url, clients, r.cfg.Duration, timed)
	return insertRun{TailBaseline: m, tool: "pgx"}, err
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

// runPgbench runs pgbench's single-row insert on clients connections for d and returns its
// rate; with timed, it logs every transaction (-l) into a temporary directory and returns
// their latencies too.
func runPgbench(ctx context.Context, bin, url string, clients int, d time.Duration, timed bool) (TailBaseline, error) {
	dir, err := os.MkdirTemp("", "dotmac-bench-pgbench-*")
	if err != nil {
		return TailBaseline{}, err
	}
	defer os.RemoveAll(dir)
	script := filepath.Join(dir, "insert.sql")
	if err := os.WriteFile(script, []byte("INSERT INTO bench_baseline (v) VALUES ('x');\n"), 0o600); err != nil {
		return TailBaseline{}, err
	}
	secs := max(1, int(d.Seconds()))
	args := []string{"-n", "-c", strconv.Itoa(clients), "-j", "2", "-T", strconv.Itoa(secs), "-f", script}
	if timed {
		args = append(args, "-l", "--log-prefix", filepath.Join(dir, "tx"))
	}
	cmd := exec.CommandContext(ctx, bin, append(args, url)...) // #nosec G204 -- our own arguments
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return TailBaseline{}, fmt.Errorf("pgbench: %w: %s", err, out)
	}
	m := tpsPattern.FindSubmatch(out)
	if m == nil {
		return TailBaseline{}, fmt.Errorf("pgbench printed no tps: %s", out)
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil || !timed {
		return TailBaseline{TxPerS: tps}, err
	}
	lat, err := pgbenchLatencies(dir)
	if err != nil {
		return TailBaseline{}, err
	}
	b := latencyBaseline(lat)
	b.TxPerS = tps
	return b, nil
}

// pgbenchLatencies reads the latencies of the transactions pgbench logged (-l) into dir:
// the third field of each line of its tx.* files, in microseconds.
func pgbenchLatencies(dir string) ([]time.Duration, error) {
	files, err := filepath.Glob(filepath.Join(dir, "tx.*"))
	if err != nil {
		return nil, err
	}
	var lat []time.Duration
	for _, f := range files {
		if lat, err = appendPgbenchLog(lat, f); err != nil {
			return nil, err
		}
	}
	if len(lat) == 0 {
		return nil, fmt.Errorf("pgbench logged no transaction in %s", dir)
	}
	return lat, nil
}

func appendPgbenchLog(lat []time.Duration, name string) ([]time.Duration, error) {
	f, err := os.Open(name) // #nosec G304 -- a file pgbench wrote into our temporary directory
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			return nil, fmt.Errorf("%s line %d: %d fields, want at least 3 (client, transaction, latency)", name, line, len(fields))
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil || us < 0 {
			return nil, fmt.Errorf("%s line %d: latency %q is not a whole number of microseconds", name, line, fields[2])
		}
		lat = append(lat, time.Duration(us)*time.Microsecond)
	}
	return lat, sc.Err()
}

// latencyBaseline is lat's median and 99th percentile (nearest rank).
func latencyBaseline(lat []time.Duration) TailBaseline {
	return TailBaseline{P50MS: ms(quantile.Of(lat, 0.50)), P99MS: ms(quantile.Of(lat, 0.99))}
}

// pgxInserts reproduces pgbench's transaction: clients connections, each inserting one row
// per (autocommitted) transaction, for d; with timed, it times each one.
func pgxInserts(ctx context.Context, url string, clients int, d time.Duration, timed bool) (TailBaseline, error) {
	pool, err := db.Open(ctx, url, db.Options{AppName: "dotmac-bench-baseline", MaxConns: int32(min(clients, math.MaxInt32))}) // #nosec G115 -- bounded
	if err != nil {
		return TailBaseline{}, err
	}
	defer pool.Close()
	var mu sync.Mutex
	var lat []time.Duration
	tps, err := countFor(ctx, d, clients, func(ctx context.Context) error {
		start := time.Now()
		if _, err := pool.Exec(ctx, `INSERT INTO bench_baseline (v) VALUES ('x')`); err != nil || !timed {
			return err
		}
		took := time.Since(start)
		mu.Lock()
		lat = append(lat, took)
		mu.Unlock()
		return nil
	})
	b := latencyBaseline(lat)
	b.TxPerS = tps
	return b, err
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
