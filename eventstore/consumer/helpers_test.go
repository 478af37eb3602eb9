package consumer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// env is one test's database: a store and the table the test handlers write (applied: one
// row per event, with the process that applied it).
type env struct {
	pool  *pgxpool.Pool
	store *postgres.Store
}

func mustEnv(t *testing.T) *env {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), consumer.MigrationSet())
	ctx := testCtx(t)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	_, err = pool.Exec(ctx, `CREATE TABLE applied (position bigint PRIMARY KEY, holder text NOT NULL)`)
	require.NoError(t, err)
	return &env{pool: pool, store: store}
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// record is a handler that inserts a row per event, as holder: applying an event twice fails
// on the primary key.
func record(holder string) consumer.Handler {
	return func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
		pos := make([]int64, len(envs))
		for i := range envs {
			pos[i] = int64(envs[i].Position) //nolint:gosec // small
		}
		_, err := tx.Exec(ctx, `INSERT INTO applied SELECT unnest($1::bigint[]), $2`, pos, holder)
		return err
	}
}

// appendEvents appends n events, one stream each, and returns the head.
func (e *env) appendEvents(t *testing.T, n int) eventstore.Position {
	t.Helper()
	return e.appendTyped(t, "TestEvent", n)
}

// appendTyped appends n events of type typ, one stream each, and returns the head.
func (e *env) appendTyped(t *testing.T, typ string, n int) eventstore.Position {
	t.Helper()
	var res eventstore.AppendResult
	for i := range n {
		var err error
		res, err = e.store.Append(testCtx(t), "test-"+uuid.NewString()[:8], eventstore.NoStream(), eventstore.EventData{
			ID: uuid.Must(uuid.NewV7()), Type: typ, SchemaVersion: 1,
			Data: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Metadata: eventstore.Metadata{TenantID: "acme"}})
		require.NoError(t, err)
	}
	return res.LastPosition
}

// applied returns how many events were applied and by which holders, in position order.
func (e *env) applied(t *testing.T, after eventstore.Position) (int, []string) {
	t.Helper()
	var n int
	var holders []string
	require.NoError(t, e.pool.QueryRow(testCtx(t), `SELECT count(*), coalesce(array_agg(DISTINCT holder), '{}')
		FROM applied WHERE position > $1`, int64(after)).Scan(&n, &holders)) //nolint:gosec // small
	return n, holders
}

func mustConsumer(t *testing.T, e *env, name string, h consumer.Handler, cfg consumer.Config) *consumer.Consumer {
	t.Helper()
	c, err := consumer.New(e.pool, e.store, name, h, cfg)
	require.NoError(t, err)
	return c
}

// eventually waits (bounded) until cond holds.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fakeClock is a clock the test moves.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}
