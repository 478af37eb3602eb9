package forwarder_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/forwarder"
)

// BenchmarkForward forwards a seeded history (three tenants of 20 customers over 4 months)
// to each broker from the start, and reports events per second (each event published and
// acknowledged before the next, a checkpoint per page of 500):
//
//	go test -run '^$' -bench Forward -benchtime 1x ./integration/forwarder/
func BenchmarkForward(b *testing.B) {
	for _, broker := range []string{"nats", "redis", "amqp"} {
		b.Run(broker, func(b *testing.B) {
			e := newEnv(b)
			head := e.seedSized(b, 9, 20, 4, "acme", "gulf", "edo")
			b.ResetTimer()
			for i := range b.N {
				var raw string
				switch broker {
				case "nats":
					raw, _, _ = natsTarget(b)
				case "redis":
					raw, _ = redisTarget(b)
				case "amqp":
					raw, _ = amqpTarget(b)
				}
				tg, err := forwarder.ParseTarget(raw)
				require.NoError(b, err)
				f, err := forwarder.New(e.pool, e.store, tg.Dial, forwarder.Config{Name: fmt.Sprintf("bench%d", i), Prefix: tg.Prefix})
				require.NoError(b, err)
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan struct{})
				start := time.Now()
				go func() { defer close(done); _ = f.Run(ctx) }()
				for {
					pos, err := f.Position(context.Background())
					require.NoError(b, err)
					if pos >= head {
						break
					}
					time.Sleep(5 * time.Millisecond)
				}
				b.ReportMetric(float64(head)/time.Since(start).Seconds(), "events/s")
				cancel()
				<-done
			}
		})
	}
}
