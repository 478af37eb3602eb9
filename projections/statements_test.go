package projections_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// statementLog counts the statements a pool runs (alone or in batches), by their text, and
// its round trips: a statement alone, or a batch (its statements' texts joined by " ; ").
type statementLog struct {
	mu    sync.Mutex
	sql   map[string]int
	trips map[string]int
}

func newStatementLog() *statementLog {
	return &statementLog{sql: map[string]int{}, trips: map[string]int{}}
}

func oneLine(sql string) string { return strings.Join(strings.Fields(sql), " ") }

func (l *statementLog) add(sql string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql[oneLine(sql)]++
}

func (l *statementLog) trip(sqls ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range sqls {
		sqls[i] = oneLine(sqls[i])
	}
	l.trips[strings.Join(sqls, " ; ")]++
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL)
	l.trip(d.SQL)
	return ctx
}
func (*statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	sqls := make([]string, 0, d.Batch.Len())
	for _, q := range d.Batch.QueuedQueries {
		sqls = append(sqls, q.SQL)
	}
	l.trip(sqls...)
	return ctx
}
func (l *statementLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	l.add(d.SQL)
}
func (*statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// reset returns what was logged (statement text: times run; round trip: times made) and
// forgets it.
func (l *statementLog) reset() (statements, trips map[string]int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	statements, trips = l.sql, l.trips
	l.sql, l.trips = map[string]int{}, map[string]int{}
	return statements, trips
}

// countOf counts the statements of log whose text contains each of parts.
func countOf(log map[string]int, parts ...string) int {
	n := 0
	for sql, c := range log {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(sql, p)
		}
		if all {
			n += c
		}
	}
	return n
}

// TestLiveBatchStatements: a live batch's transaction sets its search_path with its locks,
// and reads the registry, the tenant stalls and its partition's checkpoint, moves that
// checkpoint and announces it in one statement sent with the locks' (one round trip besides
// begin, Apply's and commit). Each live batch of every projection runs them: they were five
// round trips and seven statements.
func TestLiveBatchStatements(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
	require.NoError(t, err)
	log := newStatementLog()
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	p := &counter{name: "counter", version: 1}
	rt := projectiontest.Start(t, pool, e.store, []projections.Projection{p}, testOptions())
	log.reset()
	appendEvents(t, e.store, 200, 7, nil) // after start: applied live
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(200), pos)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	ran, trips := log.reset()

	batches := countOf(ran, "pg_try_advisory_xact_lock_shared")
	require.NotZero(t, batches, "no live batch ran: %v", ran)
	assert.Equal(t, batches, countOf(ran, "pg_try_advisory_xact_lock_shared", "set_config('search_path'"), "the search_path is set with the locks")
	assert.Equal(t, batches, countOf(trips, "pg_try_advisory_xact_lock_shared", " ; WITH moved AS (UPDATE", "projection_registry"),
		"the registry is read in the locks' round trip")
	assert.Equal(t, batches, countOf(ran, "array_agg(s.tenant)", "projection_registry", "pg_notify", "SET position"),
		"the stalls are read, the checkpoint moved and announced with the registry")
	assert.Zero(t, countOf(ran, "feed_checkpoints", "SET position")-batches, "a statement of its own for the checkpoint")
	assert.Zero(t, countOf(ran, "SELECT set_config('search_path', $1, true)"), "a statement of its own for the search_path")
	assert.Zero(t, countOf(ran, "SELECT pg_notify($1, $2)"), "a statement of its own for the notification")
	assert.Zero(t, countOf(ran, "SELECT tenant FROM"), "a statement of its own for the stalls")
}
