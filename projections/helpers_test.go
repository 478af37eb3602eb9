package projections_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// testEvent is the payload of the events these tests append: an amount, and a flag some
// projections refuse.
type testEvent struct {
	N      int64 `json:"n"`
	Poison bool  `json:"poison"`
}

func (testEvent) EventType() string  { return "TestEvent" }
func (testEvent) SchemaVersion() int { return 1 }

// decodeTest decodes TestEvent payloads; any other type is an error, as an unknown type is
// in production.
func decodeTest(env *eventstore.Envelope) (domain.Event, error) {
	if env.Type != "TestEvent" {
		return nil, fmt.Errorf("%w: %s", eventstore.ErrUnknownEventType, env.Type)
	}
	var e testEvent
	if err := json.Unmarshal(env.Data, &e); err != nil {
		return nil, err
	}
	return e, nil
}

// counter keeps, per stream, the number of events and the sum of n, and (in applied) every
// position it applied: a position applied twice breaks applied's primary key, which stalls
// the projection and fails the test.
type counter struct {
	name    string
	version int
	// prefix, if set, prefixes the table names (two counters in one runtime need it).
	prefix string
	// refuse, if set, makes Apply fail on poisoned events while it returns true.
	refuse func() bool
	// slow, if set, is slept (nanoseconds) at each Apply.
	slow atomic.Int64
}

func (c *counter) Name() string { return c.name }
func (c *counter) Version() int { return c.version }
func (c *counter) Tables() []string {
	return []string{c.prefix + "stream_counts", c.prefix + "applied"}
}

func (*counter) Tuning() projections.Tuning { return projections.Tuning{} }

func (c *counter) Setup(ctx context.Context, tx pgx.Tx) error {
	extra := ""
	if c.version >= 2 {
		extra = ", doubled bigint NOT NULL" // version 2 adds a column: its views change shape
	}
	_, err := tx.Exec(ctx, `CREATE TABLE `+c.prefix+`stream_counts (stream_id text PRIMARY KEY, events bigint NOT NULL, total bigint NOT NULL`+extra+`);
CREATE TABLE `+c.prefix+`applied (position bigint PRIMARY KEY)`)
	return err
}

func (c *counter) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	time.Sleep(time.Duration(c.slow.Load()))
	counts, totals := map[string]int64{}, map[string]int64{}
	positions := make([]int64, len(evs))
	for i, e := range evs {
		p, ok := e.Payload.(testEvent)
		if !ok {
			return fmt.Errorf("position %d: payload %T", e.Position, e.Payload)
		}
		if p.Poison && c.refuse != nil && c.refuse() {
			return fmt.Errorf("boom: poisoned event at position %d", e.Position)
		}
		counts[e.StreamID]++
		totals[e.StreamID] += p.N
		positions[i] = int64(e.Position)
	}
	streams := make([]string, 0, len(counts))
	for s := range counts {
		streams = append(streams, s)
	}
	slices.Sort(streams)
	ns, ts := make([]int64, len(streams)), make([]int64, len(streams))
	for i, s := range streams {
		ns[i], ts[i] = counts[s], totals[s]
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+c.prefix+`applied SELECT unnest($1::bigint[])`, positions); err != nil {
		return err
	}
	upsert := `INSERT INTO ` + c.prefix + `stream_counts AS c (stream_id, events, total) SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[])
ON CONFLICT (stream_id) DO UPDATE SET events = c.events + excluded.events, total = c.total + excluded.total`
	if c.version >= 2 {
		upsert = `INSERT INTO ` + c.prefix + `stream_counts AS c (stream_id, events, total, doubled) SELECT s, n, t, 2 * t FROM unnest($1::text[], $2::bigint[], $3::bigint[]) u(s, n, t)
ON CONFLICT (stream_id) DO UPDATE SET events = c.events + excluded.events, total = c.total + excluded.total, doubled = c.doubled + excluded.doubled`
	}
	_, err := tx.Exec(ctx, upsert, streams, ns, ts)
	return err
}

// env is one test's database schema and event store.
type env struct {
	pool  *pgxpool.Pool
	store *postgres.Store
	app   string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	return &env{pool: pool, store: openStore(t, pool), app: currentSchema(t, pool)}
}

func openStore(t testing.TB, pool *pgxpool.Pool) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func currentSchema(t testing.TB, pool *pgxpool.Pool) string {
	t.Helper()
	var s string
	require.NoError(t, pool.QueryRow(context.Background(), "SELECT current_schema()").Scan(&s))
	return s
}

// process opens a second pool (and store) on the same schema: another "process".
func (e *env) process(t testing.TB, appName string) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	cfg := e.pool.Config().ConnConfig
	url := fmt.Sprintf("postgres://%s@%s:%d/%s?sslmode=disable&search_path=%s", cfg.User, cfg.Host, cfg.Port, cfg.Database, e.app)
	if cfg.Password != "" {
		url = fmt.Sprintf("postgres://%s:%s@%s:%d/%s?sslmode=disable&search_path=%s", cfg.User, cfg.Password, cfg.Host, cfg.Port, cfg.Database, e.app)
	}
	pool, err := db.Open(context.Background(), url, db.Options{AppName: appName, MaxConns: 12})
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	return pool, openStore(t, pool)
}

func testOptions() projections.Options {
	return projections.Options{Decode: decodeTest, RetryInitial: 2 * time.Millisecond, RetryMax: 10 * time.Millisecond,
		Interval: 50 * time.Millisecond, LiveBatchEvents: 200}
}

// appendEvents appends n TestEvents with amounts 1..n (poisoned where poison says) to streams
// s-0 .. s-(streams-1), in appends of up to 100.
func appendEvents(t testing.TB, store eventstore.Store, n, streams int, poison func(i int) bool) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; {
		k := min(n-i, 1+rand.IntN(100))
		evs := make([]eventstore.EventData, k)
		for j := range evs {
			p := testEvent{N: int64(i + j + 1), Poison: poison != nil && poison(i+j)}
			evs[j] = eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: mustJSON(p)}
		}
		_, err := store.Append(ctx, fmt.Sprintf("s-%d", rand.IntN(streams)), eventstore.Any(), evs...)
		require.NoError(t, err)
		i += k
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// appender appends events in the background until stopped.
type appender struct {
	stop chan struct{}
	done chan struct{}
	n    atomic.Int64
}

func startAppender(t testing.TB, store eventstore.Store) *appender {
	a := &appender{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(a.done)
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(time.Duration(rand.IntN(3)) * time.Millisecond):
			}
			k, stream := 1+rand.IntN(40), rand.IntN(20)
			evs := make([]eventstore.EventData, k)
			for j := range evs {
				evs[j] = eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: mustJSON(testEvent{N: rand.Int64N(1000)}),
					Metadata: eventstore.Metadata{TenantID: fmt.Sprintf("t%d", stream%7)}} // tenants spread over partitions
			}
			if _, err := store.Append(context.Background(), fmt.Sprintf("s-%d", stream), eventstore.Any(), evs...); err != nil {
				t.Errorf("append: %v", err)
				return
			}
			a.n.Add(int64(k))
		}
	}()
	return a
}

func (a *appender) halt() {
	close(a.stop)
	<-a.done
}

// expectedCounts is what counter must hold for the events up to upto, computed by SQL.
const expectedCounts = `SELECT stream_id, count(*)::bigint, sum((data->>'n')::bigint)::bigint FROM es_events WHERE position <= $1 GROUP BY stream_id`

// sameRows fails unless queries a and b (with their args) return the same set of rows:
// (a EXCEPT b) and (b EXCEPT a) are both empty.
func sameRows(t testing.TB, pool *pgxpool.Pool, a, b string, args ...any) {
	t.Helper()
	ctx := context.Background()
	for _, q := range []string{`(` + a + `) EXCEPT (` + b + `)`, `(` + b + `) EXCEPT (` + a + `)`} {
		var n int
		require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM (`+q+`) d`, args...).Scan(&n), q)
		require.Zero(t, n, "rows differ: %s", q)
	}
}

func qualify(schema, table string) string { return pgx.Identifier{schema, table}.Sanitize() }

func status(t testing.TB, rt *projections.Runtime, name string) projections.Status {
	t.Helper()
	st, err := rt.Status(context.Background(), name)
	require.NoError(t, err)
	return st
}

// eventually polls cond every 20 ms until it holds or timeout passes.
func eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caughtUpCounter returns an env with 100 events over 3 streams and a started runtime whose
// one projection, "counter", has applied them.
func caughtUpCounter(t *testing.T) (*env, []projections.Projection, *projections.Runtime) {
	t.Helper()
	e := newEnv(t)
	appendEvents(t, e.store, 100, 3, nil)
	projs := []projections.Projection{&counter{name: "counter", version: 1}}
	rt := projectiontest.Start(t, e.pool, e.store, projs, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	return e, projs, rt
}
