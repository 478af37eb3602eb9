package forwarder_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/integration"
	"github.com/dotmac/ledger/integration/forwarder"
	"github.com/dotmac/ledger/internal/pgtest"
)

// The brokers of the machine (CI starts them: .ci/run). A test that cannot reach one fails,
// naming it: the broker tests are never skipped.
const (
	natsURL  = "nats://127.0.0.1:4222"
	redisURL = "redis://127.0.0.1:6379/0"
	amqpURL  = "amqp://guest:guest@127.0.0.1:5672/"
)

// env is one test's database and event store.
type env struct {
	pool  *pgxpool.Pool
	store *postgres.Store
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pool := pgtest.Pool(t, postgres.MigrationSet(), consumer.MigrationSet())
	store, err := postgres.Open(testCtx(t), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	return &env{pool: pool, store: store}
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// seed appends a simulated history of the tenants (a few hundred events with every kind of
// activity) and returns the head.
func (e *env) seed(t testing.TB, seed uint64, tenants ...string) eventstore.Position {
	t.Helper()
	return e.seedSized(t, seed, 5, 2, tenants...)
}

// seedSized is seed with customers per tenant over months.
func (e *env) seedSized(t testing.TB, seed uint64, customers, months int, tenants ...string) eventstore.Position {
	t.Helper()
	ctx := testCtx(t)
	var ts []domainsim.Tenant
	for _, name := range tenants {
		ts = append(ts, domainsim.Tenant{Name: name, Currency: "USD"})
	}
	sink := sinkFunc(func(cmd domainsim.Command) ([]domain.Event, error) {
		evs, err := cmd.Decide()
		if err != nil || len(evs) == 0 {
			return nil, err
		}
		data, err := codec.Encode(eventstore.Metadata{TenantID: cmd.Tenant.String(), Actor: cmd.Actor.String()}, evs...)
		if err != nil {
			return nil, err
		}
		if _, err := e.store.Append(ctx, cmd.Stream, eventstore.Exact(cmd.Version), data...); err != nil {
			return nil, err
		}
		return evs, nil
	})
	_, err := domainsim.Run(domainsim.Config{Tenants: ts, Customers: customers, Months: months, Seed: seed, GraceDays: 14,
		Start: must(domain.ParsePeriod("2026-01"))}, sink)
	require.NoError(t, err)
	head, err := e.store.Head(ctx)
	require.NoError(t, err)
	return head
}

type sinkFunc func(domainsim.Command) ([]domain.Event, error)

func (f sinkFunc) Record(c domainsim.Command) ([]domain.Event, error) { return f(c) }

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// feed returns every stored event, in feed order.
func (e *env) feed(t testing.TB) []eventstore.Envelope {
	t.Helper()
	var out []eventstore.Envelope
	for {
		envs, err := e.store.ReadAll(testCtx(t), eventstore.Position(len(out)), 1000)
		require.NoError(t, err)
		if len(envs) == 0 {
			return out
		}
		out = append(out, envs...)
	}
}

// unique returns a fresh name for a test's stream, topic prefix or queue.
func unique(prefix string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// running is a forwarder running in the background.
type running struct {
	f      *forwarder.Forwarder
	cancel context.CancelFunc
	done   chan struct{}
}

func start(t testing.TB, e *env, dial forwarder.Dialer, cfg forwarder.Config) *running {
	t.Helper()
	return startWith(t, e, func(context.CancelFunc) forwarder.Dialer { return dial }, cfg)
}

// startWith starts a forwarder whose dialer may stop it (as a crash would).
func startWith(t testing.TB, e *env, dialer func(stop context.CancelFunc) forwarder.Dialer, cfg forwarder.Config) *running {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test"
	}
	if cfg.PageEvents == 0 {
		cfg.PageEvents = 50
	}
	if cfg.MaxBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	}
	if cfg.LagInterval == 0 {
		cfg.LagInterval = 20 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(context.Background())
	f, err := forwarder.New(e.pool, e.store, dialer(cancel), cfg)
	if err != nil {
		cancel()
	}
	require.NoError(t, err)
	r := &running{f: f, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		_ = f.Run(ctx)
	}()
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
}

// eventually waits (at most a minute) until cond holds; it is a wait, not a timing assertion.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitForwarded waits until the forwarder's checkpoint reaches head.
func waitForwarded(t testing.TB, r *running, head eventstore.Position) {
	t.Helper()
	eventually(t, fmt.Sprintf("the forwarder reaches position %d", head), func() bool {
		pos, err := r.f.Position(context.Background())
		return err == nil && pos >= head
	})
}

// received is one message as a broker's consumer sees it.
type received struct {
	id    string // the broker's dedup key (Nats-Msg-Id, message UUID, AMQP message-id)
	topic string
	event integration.Event
	raw   []byte
}

func decode(t testing.TB, id, topic string, payload []byte) received {
	t.Helper()
	var ev integration.Event
	require.NoError(t, json.Unmarshal(payload, &ev), "%s", payload)
	return received{id: id, topic: topic, event: ev, raw: payload}
}

// --- NATS JetStream

func natsConn(t testing.TB) nats.JetStreamContext {
	t.Helper()
	nc, err := nats.Connect(natsURL, nats.Timeout(5*time.Second))
	require.NoError(t, err, "NATS with JetStream must run on 127.0.0.1:4222 (.ci/run starts it)")
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	require.NoError(t, err)
	return js
}

// natsTarget returns a --forward-to URL into a fresh stream and subject prefix, deleted after
// the test.
func natsTarget(t testing.TB) (raw, stream, prefix string) {
	t.Helper()
	js := natsConn(t)
	stream, prefix = unique("FWDTEST_"), unique("fwdtest")
	t.Cleanup(func() { _ = js.DeleteStream(stream) })
	return fmt.Sprintf("%s?stream=%s&prefix=%s", natsURL, stream, prefix), stream, prefix
}

// natsMessages reads every message of stream, in stream order.
func natsMessages(t testing.TB, stream string) []received {
	t.Helper()
	js := natsConn(t)
	info, err := js.StreamInfo(stream)
	require.NoError(t, err)
	var out []received
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := js.GetMsg(stream, seq)
		require.NoError(t, err)
		out = append(out, decode(t, m.Header.Get(nats.MsgIdHdr), m.Subject, m.Data))
	}
	return out
}

// --- Redis Streams

func redisClient(t testing.TB) *redis.Client {
	t.Helper()
	c := redis.NewClient(must(redis.ParseURL(redisURL)))
	t.Cleanup(func() { _ = c.Close() })
	require.NoError(t, c.Ping(testCtx(t)).Err(), "Redis must run on 127.0.0.1:6379 (.ci/run starts it)")
	return c
}

func redisTarget(t testing.TB) (raw, prefix string) {
	t.Helper()
	c := redisClient(t)
	prefix = unique("fwdtest")
	t.Cleanup(func() {
		ctx := context.Background()
		for _, k := range c.Keys(ctx, prefix+".*").Val() {
			c.Del(ctx, k)
		}
	})
	return redisURL + "?prefix=" + prefix, prefix
}

// redisMessages reads every stream under prefix; each stream's entries in order.
func redisMessages(t testing.TB, prefix string) []received {
	t.Helper()
	c := redisClient(t)
	ctx := testCtx(t)
	var out []received
	for _, key := range c.Keys(ctx, prefix+".*").Val() {
		entries, err := c.XRange(ctx, key, "-", "+").Result()
		require.NoError(t, err)
		for _, e := range entries {
			id, _ := e.Values["_watermill_message_uuid"].(string)
			payload, _ := e.Values["payload"].(string)
			out = append(out, decode(t, id, key, []byte(payload)))
		}
	}
	return out
}

// --- AMQP

// amqpTarget declares the exchange and a queue bound to every topic under a fresh prefix
// (RabbitMQ keeps only what a queue is bound to), deleted after the test.
func amqpTarget(t testing.TB) (raw, queue string) {
	t.Helper()
	ch := amqpChannel(t)
	prefix := unique("fwdtest")
	queue = prefix + ".all"
	require.NoError(t, ch.ExchangeDeclare(prefix, "topic", true, false, false, false, nil))
	_, err := ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(t, err)
	require.NoError(t, ch.QueueBind(queue, prefix+".#", prefix, false, nil))
	t.Cleanup(func() {
		ch := amqpChannel(t)
		_, _ = ch.QueueDelete(queue, false, false, false)
		_ = ch.ExchangeDelete(prefix, false, false)
	})
	return amqpURL + "?prefix=" + prefix, queue
}

func amqpChannel(t testing.TB) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	require.NoError(t, err, "RabbitMQ must run on 127.0.0.1:5672 with guest/guest (.ci/run starts it)")
	t.Cleanup(func() { _ = conn.Close() })
	ch, err := conn.Channel()
	require.NoError(t, err)
	return ch
}

// amqpMessages takes every message waiting in queue, in queue order.
func amqpMessages(t testing.TB, queue string) []received {
	t.Helper()
	ch := amqpChannel(t)
	var out []received
	for {
		d, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		if !ok {
			return out
		}
		out = append(out, decode(t, d.MessageId, d.RoutingKey, d.Body))
	}
}

// --- checks

// checkDelivered checks that msgs, deduplicated by their id, hold every event of feed once,
// each mapped as integration.FromEnvelope maps it and published on its topic; that a
// duplicate is byte for byte the first copy; and that each subject's events arrived in feed
// order (within each topic when perTopicOnly: Redis keeps one stream per topic).
func checkDelivered(t testing.TB, feed []eventstore.Envelope, msgs []received, prefix string, perTopicOnly bool) {
	t.Helper()
	first := map[string]received{}
	lastBySubject := map[string]int64{}
	for _, m := range msgs {
		require.Equal(t, m.event.ID, m.id, "the dedup key is the event id")
		if prev, dup := first[m.id]; dup {
			require.Equal(t, string(prev.raw), string(m.raw), "a duplicate carries the same event")
			continue
		}
		first[m.id] = m
		key := m.event.Tenant + "/" + m.event.Subject
		if perTopicOnly {
			key += "@" + m.topic
		}
		pos := must(parsePosition(m.event.Position))
		require.Greater(t, pos, lastBySubject[key], "subject %s out of order", key)
		lastBySubject[key] = pos
	}
	require.Len(t, first, len(feed), "every event once after deduplication")
	for i := range feed {
		want, err := integration.FromEnvelope(&feed[i])
		require.NoError(t, err)
		got, ok := first[want.ID]
		require.True(t, ok, "event %s at %d never arrived", want.ID, feed[i].Position)
		require.Equal(t, forwarder.Topic(prefix, want), got.topic)
		require.Equal(t, string(must(json.Marshal(want))), string(got.raw))
	}
}

func parsePosition(s string) (int64, error) {
	var n int64
	_, err := fmt.Sscan(s, &n)
	return n, err
}

// crashAfter wraps dial: its publishers acknowledge n messages in all, then "crash" the
// process (cancel, the forwarder's context) right after the broker acknowledged the next one,
// before the checkpoint is written.
func crashAfter(dial forwarder.Dialer, n int, cancel func()) forwarder.Dialer {
	var mu sync.Mutex
	sent := 0
	return func(ctx context.Context) (forwarder.Publisher, error) {
		p, err := dial(ctx)
		if err != nil {
			return nil, err
		}
		return publisherFunc{pub: func(ctx context.Context, topic string, msg *message.Message) error {
			if err := p.Publish(ctx, topic, msg); err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if sent++; sent > n {
				cancel()
				return errCrashed
			}
			return nil
		}, close: p.Close}, nil
	}
}

var errCrashed = errors.New("crashed between publish and checkpoint")

type publisherFunc struct {
	pub   func(ctx context.Context, topic string, msg *message.Message) error
	close func() error
}

func (p publisherFunc) Publish(ctx context.Context, topic string, msg *message.Message) error {
	return p.pub(ctx, topic, msg)
}

func (p publisherFunc) Close() error { return p.close() }
