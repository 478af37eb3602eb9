package watermill_test

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/tests"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	esw "github.com/dotmac/ledger/eventstore/watermill"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

// features are what the subscriber really offers; see the package doc.
var features = tests.Features{
	ConsumerGroups:                   true,
	ExactlyOnceDelivery:              false,
	GuaranteedOrder:                  true,
	Persistent:                       true,
	NewSubscriberReceivesOldMessages: true,
}

// TestPubSub runs Watermill's universal Pub/Sub suite in its short sizes (ForceShort: e.g.
// 100 messages to 10 concurrent subscribers instead of 5,000 to 50), which run every case of
// the suite with the race detector in seconds. DOTMAC_TEST_DEEP=1 runs the full sizes (minutes).
func TestPubSub(t *testing.T) {
	t.Parallel()
	f := features
	f.ForceShort = os.Getenv("DOTMAC_TEST_DEEP") == ""
	tests.TestPubSub(t, f,
		func(t *testing.T) (message.Publisher, message.Subscriber) { return newPubSub(t, "") },
		newPubSub)
}

// env is one test's schema: every constructor call of that test shares it, as the suite
// expects several publishers and subscribers of one test to see the same messages.
type env struct {
	once  sync.Once
	pool  *pgxpool.Pool
	store *postgres.Store
}

var envs sync.Map // *testing.T -> *env

func testEnv(t *testing.T) *env {
	v, _ := envs.LoadOrStore(t, &env{})
	e, ok := v.(*env)
	require.True(t, ok)
	e.once.Do(func() {
		e.pool, e.store = openStore(t, 6)
		t.Cleanup(func() { envs.Delete(t) })
	})
	require.NotNil(t, e.store, "the test's store failed to open")
	return e
}

// openStore opens a store on a fresh schema with a small pool: the suite runs many tests at
// once, and the server's connection limit is shared.
func openStore(tb testing.TB, conns int32) (*pgxpool.Pool, *postgres.Store) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	pool, err := db.Open(ctx, pgtest.SchemaURL(tb), db.Options{AppName: "dotmac-test", MaxConns: conns})
	require.NoError(tb, err)
	tb.Cleanup(pool.Close)
	require.NoError(tb, migrate.Up(ctx, pool, postgres.MigrationSet(), consumer.MigrationSet()))
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(tb, err)
	tb.Cleanup(store.Close)
	return pool, store
}

func newPubSub(t *testing.T, group string) (message.Publisher, message.Subscriber) {
	e := testEnv(t)
	pub := esw.NewPublisher(e.store, esw.PublisherConfig{})
	cfg := esw.SubscriberConfig{ConsumerGroup: group}
	if group != "" {
		cfg.Offsets = consumer.NewOffsets(e.pool, consumer.OffsetsConfig{})
	}
	sub, err := esw.NewSubscriber(e.store, cfg)
	require.NoError(t, err)
	return pub, sub
}
