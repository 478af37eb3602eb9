package watermill_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

func TestBatchRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)
	envs := []eventstore.Envelope{
		{ID: uuid.New(), StreamID: "acct-1", Version: 1, Position: 7, Type: "CustomerRegistered", SchemaVersion: 1,
			Data: []byte(`{"a":1}`), RawMetadata: []byte(`{"tenant_id":"acme","recorded_at":"` + at.Format(time.RFC3339Nano) + `"}`),
			Hash: make([]byte, 32)},
		{ID: uuid.New(), StreamID: "acct-2", Version: 300, Position: 1 << 40, Type: "PaymentRecorded", SchemaVersion: 3,
			Data: []byte(`{}`), RawMetadata: []byte(`{"recorded_at":"` + at.Format(time.RFC3339Nano) + `"}`), Hash: []byte{1, 2, 3}},
	}
	got, err := esw.DecodeBatch(esw.EncodeBatch(envs))
	require.NoError(t, err)
	require.Len(t, got, 2)
	for i := range envs {
		assert.Equal(t, envs[i].ID, got[i].ID)
		assert.Equal(t, envs[i].StreamID, got[i].StreamID)
		assert.Equal(t, envs[i].Version, got[i].Version)
		assert.Equal(t, envs[i].Position, got[i].Position)
		assert.Equal(t, envs[i].Type, got[i].Type)
		assert.Equal(t, envs[i].SchemaVersion, got[i].SchemaVersion)
		assert.Equal(t, string(envs[i].Data), string(got[i].Data))
		assert.Equal(t, envs[i].Hash, got[i].Hash)
		assert.True(t, at.Equal(got[i].RecordedAt()))
	}
	assert.Equal(t, "acme", got[0].Metadata.TenantID)

	for _, bad := range [][]byte{nil, {0}, {1, 5}, append(esw.EncodeBatch(envs), 0)} {
		_, err := esw.DecodeBatch(bad)
		assert.ErrorIs(t, err, esw.ErrBadBatch)
	}

	// A batch message built for leaving the process carries the events in its payload.
	msg := esw.BatchMessage(envs)
	fromMsg, err := esw.Envelopes(msg)
	require.NoError(t, err)
	require.Len(t, fromMsg, 2)
	assert.Equal(t, envs[1].Position, fromMsg[1].Position)
	assert.Equal(t, "acme", fromMsg[0].Metadata.TenantID)
	// Without the payload (and without the events in its context) it is not a batch.
	msg.Payload = nil
	_, err = esw.Envelopes(msg)
	assert.ErrorIs(t, err, esw.ErrBadBatch)
	_, err = esw.Envelopes(message.NewMessage("one-event", []byte(`{}`)))
	assert.ErrorIs(t, err, esw.ErrBadBatch)
}

// TestBatchSubscriber: with BatchEvents > 1 every event arrives once, in order, in messages
// of at most BatchEvents events, and a nacked batch comes back whole.
func TestBatchSubscriber(t *testing.T) {
	t.Parallel()
	_, store := openStore(t, 4)
	ctx := context.Background()
	const total = 2500
	appendEvents(t, store, total)

	sub, err := esw.NewSubscriber(store, esw.SubscriberConfig{BatchEvents: 300})
	require.NoError(t, err)
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)

	var next eventstore.Position = 1
	nacked := false
	for next <= total {
		msg := receive(t, msgs)
		require.True(t, esw.IsBatch(msg))
		assert.Empty(t, msg.Payload, "the subscriber's batches carry their events in memory, not encoded")
		envs, err := esw.Envelopes(msg)
		require.NoError(t, err)
		require.LessOrEqual(t, len(envs), 300)
		require.Equal(t, len(envs), cap(envs), "the shared envelopes leave no room an append could write into")
		require.Equal(t, next, envs[0].Position, "batches must continue where the last acked one ended")
		assert.Equal(t, fmt.Sprintf("batch-%d-%d", envs[0].Position, envs[len(envs)-1].Position), msg.UUID)
		assert.Equal(t, strconv.Itoa(len(envs)), msg.Metadata.Get(esw.MetaBatchEvents))
		for i := range envs {
			require.Equal(t, next+eventstore.Position(i), envs[i].Position)
			require.Equal(t, "TestEvent", envs[i].Type)
			require.JSONEq(t, `{"n":1}`, string(envs[i].Data))
			require.False(t, envs[i].RecordedAt().IsZero(), "metadata decoded")
		}
		if !nacked && next > 1 {
			nacked = true
			// The redelivery carries the same events (handlers only read them: see Envelopes).
			msg.Nack()
			continue
		}
		msg.Ack()
		next = envs[len(envs)-1].Position + 1
	}
	assert.True(t, nacked)
}

// TestMoreFollows: of the events one read of the feed returned, every batch but the last says
// more follow; the last does not, whatever its size (a handler leaving work for a batch that
// comes next must not leave it on the last one: nothing may come for a long time).
func TestMoreFollows(t *testing.T) {
	t.Parallel()
	_, store := openStore(t, 4)
	ctx := context.Background()
	appendEvents(t, store, 9) // one read of the feed: three batches of three, the last full

	sub, err := esw.NewSubscriber(store, esw.SubscriberConfig{BatchEvents: 3})
	require.NoError(t, err)
	defer sub.Close()
	msgs, err := sub.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)
	var more []bool
	for last := eventstore.Position(0); last < 9; {
		msg := receive(t, msgs)
		envs, err := esw.Envelopes(msg)
		require.NoError(t, err)
		more = append(more, esw.MoreFollows(msg))
		last = envs[len(envs)-1].Position
		msg.Ack()
	}
	assert.Equal(t, []bool{true, true, false}, more)
	assert.False(t, esw.MoreFollows(message.NewMessage("m", nil)), "a message not from a subscriber")
}

// TestConsumerGroupResumes: a consumer group's second subscription starts after the last
// acked message of the first.
func TestConsumerGroupResumes(t *testing.T) {
	t.Parallel()
	pool, store := openStore(t, 4)
	ctx := context.Background()
	appendEvents(t, store, 10)
	cfg := esw.SubscriberConfig{ConsumerGroup: "g1", Offsets: consumer.NewOffsets(pool, consumer.OffsetsConfig{})}

	first, err := esw.NewSubscriber(store, cfg)
	require.NoError(t, err)
	msgs, err := first.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)
	for range 4 {
		receive(t, msgs).Ack()
	}
	unacked := receive(t, msgs) // the fifth is delivered but never acked
	require.NoError(t, first.Close())
	assert.Equal(t, "5", unacked.Metadata.Get(esw.MetaPosition))

	second, err := esw.NewSubscriber(store, cfg)
	require.NoError(t, err)
	defer second.Close()
	msgs, err = second.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)
	msg := receive(t, msgs)
	assert.Equal(t, "5", msg.Metadata.Get(esw.MetaPosition), "resumes after the last ack, redelivering the unacked one")
	assert.Equal(t, unacked.UUID, msg.UUID)
}

// TestLinger: a subscription that lingers after a read which did not fill a message ends when
// closed while lingering, its offset after what was acked; a read that filled a message (its
// last message included) is followed at once by the next read, however long the linger.
func TestLinger(t *testing.T) {
	t.Parallel()
	pool, store := openStore(t, 4)
	ctx := context.Background()
	appendEvents(t, store, 3)
	cfg := esw.SubscriberConfig{ConsumerGroup: "g1", Offsets: consumer.NewOffsets(pool, consumer.OffsetsConfig{}),
		BatchEvents: 10, Linger: time.Hour}

	first, err := esw.NewSubscriber(store, cfg)
	require.NoError(t, err)
	msgs, err := first.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)
	msg := receive(t, msgs)
	assert.Equal(t, "batch-1-3", msg.UUID)
	msg.Ack() // a read of 3 events: the subscription lingers
	appendEvents(t, store, 12)
	require.NoError(t, first.Close(), "a lingering subscription ends when closed")
	_, open := <-msgs
	assert.False(t, open)
	offset, err := cfg.Offsets.Load(ctx, "g1", esw.TopicAll)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(3), offset)

	second, err := esw.NewSubscriber(store, cfg)
	require.NoError(t, err)
	defer second.Close()
	msgs, err = second.Subscribe(ctx, esw.TopicAll)
	require.NoError(t, err)
	for _, want := range []string{"batch-4-13", "batch-14-15"} { // one read of 12 events
		msg := receive(t, msgs)
		assert.Equal(t, want, msg.UUID)
		msg.Ack()
	}
	appendEvents(t, store, 1)
	assert.Equal(t, "batch-16-16", receive(t, msgs).UUID, "after a full read the next read is at once")
}

// TestDomainEventMapping: a domain event published through Watermill is stored as that event
// (its type, data and metadata fields), and read back with the same UUID; publishing it again
// stores nothing.
func TestDomainEventMapping(t *testing.T) {
	t.Parallel()
	_, store := openStore(t, 4)
	ctx := context.Background()
	pub := esw.NewPublisher(store, esw.PublisherConfig{})
	id := uuid.NewString()
	msg := message.NewMessage(id, []byte(`{"customer_id":"c1"}`))
	msg.Metadata.Set(esw.MetaEventType, "CustomerDeactivated")
	msg.Metadata.Set("tenant_id", "acme")
	msg.Metadata.Set("correlation_id", "corr-1")
	require.NoError(t, pub.Publish("account-1", msg))
	require.NoError(t, pub.Publish("account-1", msg), "publishing again is idempotent")

	envs, err := store.ReadAll(ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, envs, 1)
	assert.Equal(t, "CustomerDeactivated", envs[0].Type)
	assert.Equal(t, id, envs[0].ID.String())
	assert.Equal(t, "acme", envs[0].Metadata.TenantID)
	assert.JSONEq(t, `{"customer_id":"c1"}`, string(envs[0].Data))

	back, err := esw.MessageFromEnvelope(&envs[0])
	require.NoError(t, err)
	assert.Equal(t, id, back.UUID)
	assert.Equal(t, "corr-1", back.Metadata.Get("correlation_id"))
	assert.Equal(t, "account-1", back.Metadata.Get(esw.MetaStreamID))

	bad := message.NewMessage(uuid.NewString(), []byte(`{}`))
	bad.Metadata.Set(esw.MetaEventType, "CustomerDeactivated")
	bad.Metadata.Set("unknown_key", "x")
	assert.ErrorIs(t, pub.Publish("account-1", bad), esw.ErrNotEncodable, "metadata with no place in an event is refused, not dropped")
}

func appendEvents(t *testing.T, store eventstore.Store, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i += 500 {
		batch := make([]eventstore.EventData, min(500, n-i))
		for j := range batch {
			batch[j] = eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: []byte(`{"n":1}`)}
		}
		_, err := store.Append(ctx, fmt.Sprintf("s-%d", i), eventstore.Any(), batch...)
		require.NoError(t, err)
	}
}

func receive(t *testing.T, msgs <-chan *message.Message) *message.Message {
	t.Helper()
	select {
	case m, ok := <-msgs:
		require.True(t, ok, "channel closed")
		return m
	case <-time.After(10 * time.Second):
		t.Fatal("no message within 10 s")
		return nil
	}
}
