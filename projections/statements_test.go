package projections_test

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// statementLog counts the statements a pool runs (alone or in batches), by their text, and
// the batches (each one round trip), by their statements' texts joined with " ;; ".
type statementLog struct {
	mu      sync.Mutex
	sql     map[string]int
	batches map[string]int
}

func (l *statementLog) add(sql string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sql[strings.Join(strings.Fields(sql), " ")]++
}

func (l *statementLog) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	l.add(d.SQL)
	return ctx
}
func (*statementLog) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (l *statementLog) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	texts := make([]string, len(d.Batch.QueuedQueries))
	for i, q := range d.Batch.QueuedQueries {
		texts[i] = strings.Join(strings.Fields(q.SQL), " ")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.batches == nil {
		l.batches = map[string]int{}
	}
	l.batches[strings.Join(texts, " ;; ")]++
	return ctx
}
func (l *statementLog) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	l.add(d.SQL)
}
func (*statementLog) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// reset returns what was logged (statement text: times run) and forgets it.
func (l *statementLog) reset() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.sql
	l.sql, l.batches = map[string]int{}, map[string]int{}
	return out
}

// batchesRun returns the batches logged since the last reset (see statementLog).
func (l *statementLog) batchesRun() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return maps.Clone(l.batches)
}

// tracedPool opens a second pool on e's schema whose statements log counts.
func (e *env) tracedPool(t *testing.T) (*pgxpool.Pool, *statementLog) {
	t.Helper()
	cfg, err := pgxpool.ParseConfig(e.pool.Config().ConnString())
	require.NoError(t, err)
	log := &statementLog{sql: map[string]int{}}
	cfg.ConnConfig.Tracer = log
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, log
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

// TestLiveBatchStatements: a live batch's transaction takes its locks and reads the registry in
// one round trip, sets its search_path with the registry read, reads the tenant stalls with the registry and announces its checkpoint with the
// checkpoint's update: no round trip of its own for any of the three (each live batch of every
// projection ran them, three of its eight statements besides Apply's). The statements shared
// by every build run under the application's search_path (PostgreSQL plans a prepared statement
// again whenever the path changed since it last ran): the registry read is planned before it
// sets the build's path, and the checkpoint's update is preceded, in its own round trip, by
// setting the application's path back.
func TestLiveBatchStatements(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pool, log := e.tracedPool(t)
	p := &counter{name: "counter", version: 1}
	rt := projectiontest.Start(t, pool, e.store, []projections.Projection{p}, testOptions())
	log.reset()
	appendEvents(t, e.store, 200, 7, nil) // after start: applied live
	pos := projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	assert.Equal(t, eventstore.Position(200), pos)
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(pos))
	trips := log.batchesRun()
	ran := log.reset()

	batches := countOf(ran, "pg_try_advisory_xact_lock_shared")
	require.NotZero(t, batches, "no live batch ran: %v", ran)
	assert.Equal(t, batches, countOf(trips, "pg_try_advisory_xact_lock_shared", " ;; ", "projection_registry"), "the locks and the registry read go in one round trip")
	assert.Zero(t, countOf(ran, "pg_try_advisory_xact_lock_shared", "set_config('search_path'"), "the search_path is set before the registry read is planned")
	assert.Equal(t, batches, countOf(ran, "array_agg(s.tenant)", "projection_registry", "set_config('search_path', $2, true)"), "the stalls are read, and the search_path set, with the registry")
	assert.NotZero(t, countOf(ran, "pg_notify", "UPDATE"), "the checkpoint's update announces it")
	assert.Equal(t, countOf(ran, "pg_notify", "UPDATE"), countOf(ran, "SELECT set_config('search_path', $1, true)"), "the application's search_path is set back before each checkpoint's update")
	assert.Zero(t, countOf(ran, "SELECT pg_notify($1, $2)"), "a statement of its own for the notification")
	assert.Zero(t, countOf(ran, "SELECT tenant FROM"), "a statement of its own for the stalls")
}

// TestIdleBatchesCostOneRoundTrip: a live batch holding nothing the projection handles moves
// its checkpoint in one round trip (the locks, then the checked advance with its
// announcement), not the four of a batch it applies (begin, locks and registry, checkpoint,
// commit); a batch with events it handles still takes the full path.
func TestIdleBatchesCostOneRoundTrip(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pool, log := e.tracedPool(t)
	opts := testOptions()
	opts.Decode = func(env *eventstore.Envelope) (domain.Event, error) {
		if env.Type != "Poison" {
			return nil, fmt.Errorf("decoded %s, which the projection does not handle", env.Type)
		}
		return testEvent{N: 1}, nil
	}
	rt := projectiontest.Start(t, pool, e.store, []projections.Projection{&poisonOnly{counter{name: "poison", version: 1}}}, opts)
	// Start returns before the live projector holds its lease and has caught up: one event
	// first, so that what follows reaches it live, not in its catch-up.
	appendEvents(t, e.store, 1, 1, nil)
	assert.Equal(t, eventstore.Position(1), projectiontest.WaitCaughtUp(t, rt, "poison", 30*time.Second))
	log.reset()
	appendEvents(t, e.store, 200, 7, nil) // nothing the projection handles
	assert.Equal(t, eventstore.Position(201), projectiontest.WaitCaughtUp(t, rt, "poison", 30*time.Second))
	trips, ran := log.batchesRun(), log.reset()

	// Counted by the batches sent: a batch's statements are logged as its results are read,
	// which may come after the advance's announcement has ended the wait.
	idle := countOf(trips, "current_setting('dotmac.idle_locked')")
	require.NotZero(t, idle, "no idle advance ran: %v", trips)
	assert.Equal(t, idle, countOf(trips, "set_config('dotmac.idle_locked'", " ;; ", "current_setting('dotmac.idle_locked')", "pg_notify"),
		"the locks and the advance go in one round trip")
	assert.Zero(t, countOf(ran, "SELECT pg_try_advisory_xact_lock_shared"), "a batch of nothing handled took the full path")

	poison := make([]eventstore.EventData, 7)
	for i := range poison {
		poison[i] = eventstore.EventData{ID: uuid.New(), Type: "Poison", SchemaVersion: 1, Data: []byte(`{"n":1}`)}
	}
	_, err := e.store.Append(context.Background(), "p-1", eventstore.Any(), poison...)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(208), projectiontest.WaitCaughtUp(t, rt, "poison", 30*time.Second))
	sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, `VALUES ('p-1', 7::bigint, 7::bigint)`)
	assert.NotZero(t, countOf(log.reset(), "SELECT pg_try_advisory_xact_lock_shared"), "a batch it handles takes the full path")
}
