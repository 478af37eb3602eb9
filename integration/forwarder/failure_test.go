package forwarder_test

import (
	"context"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/forwarder"
	"github.com/dotmac/ledger/internal/pgtest"
)

// A forwarder that dies after the broker acknowledged an event but before its page's
// checkpoint is written loses nothing: the next process publishes the page again from the
// checkpoint, the duplicates carry the same id, and JetStream drops them (Nats-Msg-Id); Redis
// keeps them, byte for byte the same, for the consumer to drop by id.
func TestCrashBetweenPublishAndCheckpoint(t *testing.T) {
	t.Parallel()
	for _, broker := range []string{"nats", "redis"} {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			head := e.seed(t, 5, "acme", "gulf")
			var raw, stream, prefix string
			if broker == "nats" {
				raw, stream, _ = natsTarget(t)
			} else {
				raw, prefix = redisTarget(t)
			}
			tg := target(t, raw)
			const crashAt = 120 // in the third page of 50
			r := startWith(t, e, func(stop context.CancelFunc) forwarder.Dialer { return crashAfter(tg.Dial, crashAt, stop) },
				forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix})
			<-r.done
			pos, err := r.f.Position(context.Background())
			require.NoError(t, err)
			require.Equal(t, 100, int(pos), "the crashed page's checkpoint was not written")

			r2 := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix})
			waitForwarded(t, r2, head)
			if broker == "nats" {
				msgs := natsMessages(t, stream)
				checkDelivered(t, e.feed(t), msgs, tg.Prefix, false)
				require.Len(t, msgs, int(head), "JetStream dropped the republished events as duplicates")
				return
			}
			msgs := redisMessages(t, prefix)
			checkDelivered(t, e.feed(t), msgs, tg.Prefix, true)
			require.Len(t, msgs, int(head)+crashAt+1-100, "events 101 to 121 were published twice")
		})
	}
}

// A broker outage (a proxy in front of NATS refuses, then drops every connection) backs the
// forwarder off, counts errors, shows the lag in the gauge and fails Ready; once the broker
// is back the forwarder catches up, losing nothing and duplicating nothing after JetStream's
// deduplication.
func TestBrokerOutage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	head := e.seed(t, 6, "acme")
	raw, stream, _ := natsTarget(t)
	p := pgtest.TCPProxy(t, "127.0.0.1:4222")
	p.Cut() // down from the start: connections refused
	tg := target(t, strings.Replace(raw, "127.0.0.1:4222", p.Addr(), 1))
	reg := prometheus.NewRegistry()
	r := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix, Registerer: reg})

	eventually(t, "the forwarder reports the outage", func() bool {
		return r.f.Ready(context.Background()) != nil && r.f.Lag() == int64(head)
	})
	assert.Contains(t, r.f.Ready(context.Background()).Error(), "events behind")
	assert.Contains(t, gathered(t, reg), `dotmac_forwarder_lag_events{sink="nats"} `+itoa(int(head)))
	assert.NotContains(t, gathered(t, reg), `dotmac_forwarder_errors_total{sink="nats"} 0`)

	p.Restore()
	waitForwarded(t, r, head)
	eventually(t, "Ready passes again", func() bool { return r.f.Ready(context.Background()) == nil })

	// Cut while running: existing connections drop; new events wait, then arrive.
	p.Cut()
	head2 := e.seed(t, 7, "gulf")
	eventually(t, "the forwarder reports the second outage", func() bool {
		return r.f.Ready(context.Background()) != nil && r.f.Lag() == int64(head2-head)
	})
	p.Restore()
	waitForwarded(t, r, head2)
	eventually(t, "the lag gauge reads 0", func() bool { return r.f.Lag() == 0 })
	require.NoError(t, r.f.Ready(context.Background()))

	msgs := natsMessages(t, stream)
	checkDelivered(t, e.feed(t), msgs, tg.Prefix, false)
	require.Len(t, msgs, int(head2))
}

// A forwarder connects at once, with nothing to forward yet: the NATS target's stream exists
// for consumers to subscribe to before the first event.
func TestConnectsBeforeTheFirstEvent(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	raw, stream, _ := natsTarget(t)
	tg := target(t, raw)
	r := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix})
	js := natsConn(t)
	eventually(t, "the stream exists", func() bool { _, err := js.StreamInfo(stream); return err == nil })
	require.NoError(t, r.f.Ready(context.Background()))
	require.Empty(t, natsMessages(t, stream))
}

func TestParseTarget(t *testing.T) {
	for raw, want := range map[string]forwarder.Target{
		"nats://127.0.0.1:4222": {Kind: "nats", Prefix: "dotmac"},
		"nats://u:secret@h:4222?stream=S&prefix=isp.eu&duplicates=1h": {Kind: "nats", Prefix: "isp.eu", Redacted: "nats://u:xxxxx@h:4222"},
		"redis://127.0.0.1:6379/2?maxlen=100000":                      {Kind: "redis", Prefix: "dotmac"},
		"amqp://guest:guest@127.0.0.1:5672/?exchange=ex":              {Kind: "amqp", Prefix: "dotmac"},
	} {
		got, err := forwarder.ParseTarget(raw)
		require.NoError(t, err, raw)
		assert.Equal(t, want.Kind, got.Kind, raw)
		assert.Equal(t, want.Prefix, got.Prefix, raw)
		assert.NotNil(t, got.Dial)
		assert.NotContains(t, got.Redacted, "secret")
	}
	for raw, msg := range map[string]string{
		"kafka://h:9092":                `scheme "kafka"`,
		"nats://h:4222?strem=S":         "unknown parameter(s) strem",
		"nats://h:4222?prefix=a..b":     `prefix "a..b"`,
		"nats://h:4222?duplicates=soon": "duplicates",
		"redis://h:6379?maxlen=-1":      "maxlen",
		"nats://h:4222?prefix=dotmac.>": `prefix "dotmac.>"`,
	} {
		_, err := forwarder.ParseTarget(raw)
		require.Error(t, err, raw)
		assert.Contains(t, err.Error(), msg, raw)
	}
}
