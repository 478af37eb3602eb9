package webhooks_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/webhooks"
)

// BenchmarkDeliver measures fan-out and delivery of b.N recorded events to two endpoints
// of a tenant on loopback, from the start of the service to the last delivery logged
// (go test -run '^$' -bench Deliver -benchtime 2000x ./integration/webhooks/).
func BenchmarkDeliver(b *testing.B) {
	cfg := testConfig()
	cfg.Workers, cfg.PerEndpoint = webhooks.DefaultWorkers, webhooks.DefaultPerEndpoint
	e := newEnv(b, cfg)
	one, two := newReceiver(b, always(http.StatusNoContent)), newReceiver(b, always(http.StatusNoContent))
	e.register(b, "acme", one.srv.URL)
	e.register(b, "acme", two.srv.URL)
	for range b.N {
		e.registerCustomer(b, "acme")
	}
	b.ResetTimer()
	start := time.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = e.svc.Run(ctx) }()
	require.Eventually(b, func() bool {
		var n int
		err := e.pool.QueryRow(testCtx(b), `SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'`).Scan(&n)
		return err == nil && n == 2*b.N
	}, 5*time.Minute, 10*time.Millisecond)
	b.ReportMetric(float64(2*b.N)/time.Since(start).Seconds(), "deliveries/s")
	b.StopTimer()
	cancel()
	<-done
}
