package forwarder_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/forwarder"
)

func target(t *testing.T, raw string) forwarder.Target {
	t.Helper()
	tg, err := forwarder.ParseTarget(raw)
	require.NoError(t, err)
	return tg
}

// Every event of a seeded history (three tenants, every kind of activity) arrives exactly
// once on each broker after deduplication, in order per subject, and the metrics count them.
func TestEveryEventArrivesOnEachBroker(t *testing.T) {
	t.Parallel()
	for _, broker := range []string{"nats", "redis", "amqp"} {
		t.Run(broker, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			head := e.seed(t, 3, "acme", "gulf", "edo")
			require.Greater(t, int(head), 300)
			var raw string
			var read func() []received
			switch broker {
			case "nats":
				var stream string
				raw, stream, _ = natsTarget(t)
				read = func() []received { return natsMessages(t, stream) }
			case "redis":
				var prefix string
				raw, prefix = redisTarget(t)
				read = func() []received { return redisMessages(t, prefix) }
			case "amqp":
				var queue string
				raw, queue = amqpTarget(t)
				read = func() []received { return amqpMessages(t, queue) }
			}
			tg := target(t, raw)
			reg := prometheus.NewRegistry()
			r := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix, Registerer: reg})
			waitForwarded(t, r, head)
			msgs := read()
			checkDelivered(t, e.feed(t), msgs, tg.Prefix, broker == "redis")
			require.Len(t, msgs, int(head), "no duplicate without a failure")
			require.NoError(t, r.f.Ready(context.Background()))
			eventually(t, "the lag gauge reads 0", func() bool { return r.f.Lag() == 0 })

			names := map[string]bool{}
			for _, mf := range must(reg.Gather()) {
				names[mf.GetName()] = true
			}
			for _, n := range []string{"dotmac_forwarder_lag_events", "dotmac_forwarder_published_total",
				"dotmac_forwarder_errors_total", "dotmac_forwarder_last_published_position"} {
				assert.True(t, names[n], n)
			}
			assert.Contains(t, gathered(t, reg), `dotmac_forwarder_published_total{sink="`+tg.Kind+`"} `+itoa(int(head)))
			assert.Contains(t, gathered(t, reg), `dotmac_forwarder_last_published_position{sink="`+tg.Kind+`"} `+itoa(int(head)))

			// A restart resumes from the checkpoint: new events only.
			r.stop()
			head2 := e.seed(t, 4, "late")
			r2 := start(t, e, tg.Dial, forwarder.Config{Name: tg.Kind, Prefix: tg.Prefix})
			waitForwarded(t, r2, head2)
			all := read() // NATS and Redis keep the whole stream; the AMQP queue holds what came since
			if broker == "amqp" {
				all = slices.Concat(msgs, all)
			}
			checkDelivered(t, e.feed(t), all, tg.Prefix, broker == "redis")
			require.Len(t, all, int(head2))
		})
	}
}

func gathered(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	var b strings.Builder
	for _, mf := range must(reg.Gather()) {
		for _, m := range mf.GetMetric() {
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue()
			b.WriteString(mf.GetName() + `{sink="` + m.GetLabel()[0].GetValue() + `"} ` + itoa(int(v)) + "\n")
		}
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }
