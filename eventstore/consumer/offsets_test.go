package consumer_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	esw "github.com/dotmac/ledger/eventstore/watermill"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
)

func TestOffsets(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	clock := newFakeClock()
	o := consumer.NewOffsets(e.pool, consumer.OffsetsConfig{FlushEvery: time.Second, Now: clock.Now,
		Start: func(context.Context, string) (eventstore.Position, error) { return 42, nil }})
	pos, err := o.Load(ctx, "g", esw.TopicAll)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(42), pos, "a new group starts where Start says")
	var stored int64
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT position FROM feed_checkpoints WHERE consumer = 'g'`).Scan(&stored))
	assert.Equal(t, int64(42), stored, "and that start is stored")

	require.NoError(t, o.Save(ctx, "g", esw.TopicAll, 50)) // first save: written
	require.NoError(t, o.Save(ctx, "g", esw.TopicAll, 60)) // within FlushEvery: pending
	pos, err = consumer.NewOffsets(e.pool, consumer.OffsetsConfig{}).Load(ctx, "g", esw.TopicAll)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(50), pos)
	require.NoError(t, o.Flush(ctx))
	require.NoError(t, o.Save(ctx, "g", esw.TopicAll, 55), "an offset never moves backwards")
	require.NoError(t, o.Flush(ctx))
	pos, err = o.Load(ctx, "g", esw.TopicAll)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(60), pos)

	pos, err = o.Load(ctx, "g", "some-stream")
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(42), pos, "another topic is another row")
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM feed_checkpoints WHERE consumer = 'g/some-stream'`).Scan(&stored))
	assert.Equal(t, int64(1), stored)
}

// group is one process's member of a leased consumer group.
type group struct {
	sub  *consumer.LeasedSubscriber
	msgs <-chan *message.Message
}

func joinGroup(t *testing.T, e *env, holder string, clock *fakeClock) *group {
	t.Helper()
	offsets := consumer.NewOffsets(e.pool, consumer.OffsetsConfig{FlushEvery: time.Hour})
	inner, err := esw.NewSubscriber(e.store, esw.SubscriberConfig{ConsumerGroup: "test.group", Offsets: offsets})
	require.NoError(t, err)
	lease := consumer.NewLease(e.pool, "test.group", consumer.LeaseConfig{Holder: holder, TTL: leaseTTL, Poll: 5 * time.Millisecond, Now: clock.Now})
	sub := consumer.NewLeasedSubscriber(lease, inner, offsets, zerolog.Nop())
	t.Cleanup(func() { _ = sub.Close() })
	msgs, err := sub.Subscribe(context.Background(), esw.TopicAll)
	require.NoError(t, err)
	return &group{sub: sub, msgs: msgs}
}

// TestLeasedSubscriberOneMemberDelivers: two processes subscribe a consumer group; one
// delivers, and when it stops (flushing its offset) the other resumes after its last ack.
func TestLeasedSubscriberOneMemberDelivers(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	clock := newFakeClock()
	a := joinGroup(t, e, "a", clock)
	eventually(t, "a holds the group's lease", func() bool { return leaseHolder(t, e, "test.group") == "a" })
	b := joinGroup(t, e, "b", clock)
	e.appendEvents(t, 6)
	for i := range 4 {
		msg := <-a.msgs
		got := positionOf(t, msg)
		assert.Equal(t, eventstore.Position(i+1), got) //nolint:gosec // small
		msg.Ack()
	}
	select {
	case msg := <-b.msgs:
		t.Fatalf("b delivered %s while a holds the lease", msg.UUID)
	default:
	}
	require.NoError(t, a.sub.Close())
	for i := 4; i < 6; i++ {
		msg := <-b.msgs
		got := positionOf(t, msg)
		assert.Equal(t, eventstore.Position(i+1), got, "b resumes after a's last ack") //nolint:gosec // small
		msg.Ack()
	}
}

// TestMigrationAdoptsWatermillOffsets: an install with eventstore/watermill's wm_offsets
// keeps its groups' offsets in feed_checkpoints, and the old table is gone.
func TestMigrationAdoptsWatermillOffsets(t *testing.T) {
	t.Parallel()
	pool := pgtest.Pool(t)
	ctx := testCtx(t)
	_, err := pool.Exec(ctx, `
		CREATE TABLE wm_offsets (consumer_group text NOT NULL, topic text NOT NULL, position bigint NOT NULL,
			updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (consumer_group, topic));
		CREATE TABLE wm_schema_migrations (id serial PRIMARY KEY);
		INSERT INTO wm_offsets (consumer_group, topic, position) VALUES
			('process.billing', '$all', 120), ('process.dunning', '$all', 340), ('g', 'stream-1', 7)`)
	require.NoError(t, err)
	require.NoError(t, migrate.Up(ctx, pool, consumer.MigrationSet()))
	o := consumer.NewOffsets(pool, consumer.OffsetsConfig{})
	for group, want := range map[string]eventstore.Position{"process.billing": 120, "process.dunning": 340} {
		pos, err := o.Load(ctx, group, esw.TopicAll)
		require.NoError(t, err)
		assert.Equal(t, want, pos, group)
	}
	pos, err := o.Load(ctx, "g", "stream-1")
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(7), pos)
	var gone bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('wm_offsets') IS NULL AND to_regclass('wm_schema_migrations') IS NULL`).Scan(&gone))
	assert.True(t, gone, "the old tables are dropped")
}

func positionOf(t *testing.T, msg *message.Message) eventstore.Position {
	t.Helper()
	pos, err := strconv.ParseUint(msg.Metadata.Get(esw.MetaPosition), 10, 64)
	require.NoError(t, err)
	return eventstore.Position(pos)
}

// TestLeasedSubscriberKeepsTheLeaseWhileAMessageIsHandled: a member that stops while its
// handler is still at work on a message gives the lease up only once the message is settled,
// so another member never delivers it while the first still handles it.
func TestLeasedSubscriberKeepsTheLeaseWhileAMessageIsHandled(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	clock := newFakeClock()
	a := joinGroup(t, e, "a", clock)
	eventually(t, "a holds the group's lease", func() bool { return leaseHolder(t, e, "test.group") == "a" })
	b := joinGroup(t, e, "b", clock)
	e.appendEvents(t, 2)
	msg := <-a.msgs // being handled
	closed := make(chan error)
	go func() { closed <- a.sub.Close() }()
	select {
	case got := <-b.msgs:
		t.Fatalf("b delivered %s while a still handles %s", got.UUID, msg.UUID)
	case <-time.After(200 * time.Millisecond):
	}
	assert.Equal(t, "a", leaseHolder(t, e, "test.group"))
	msg.Nack()
	require.NoError(t, <-closed)
	got := <-b.msgs
	assert.Equal(t, positionOf(t, msg), positionOf(t, got), "b delivers the nacked message again")
	got.Ack()
}
