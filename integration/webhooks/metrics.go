package webhooks

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dotmac/ledger/internal/wait"
)

// metrics are the webhooks' Prometheus series; none is labelled by tenant or endpoint (the
// delivery log per endpoint is the query API's).
type metrics struct {
	attempts        *prometheus.CounterVec
	deliveries      *prometheus.CounterVec
	attemptSeconds  prometheus.Histogram
	inflight        prometheus.Gauge
	fanoutLag       prometheus.Gauge
	pending         prometheus.Gauge
	oldestPendingAt prometheus.Gauge
}

func newMetrics() metrics {
	return metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dotmac_webhook_attempts_total",
			Help: "Webhook delivery attempts by result: success (2xx), http_error (another status) or network_error (no answer)."}, []string{"result"}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "dotmac_webhook_deliveries_total",
			Help: "Webhook deliveries finished, by outcome: delivered, or failed (retried until they expired)."}, []string{"outcome"}),
		attemptSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "dotmac_webhook_attempt_duration_seconds",
			Help: "Duration of webhook delivery attempts.", Buckets: prometheus.DefBuckets}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_webhook_inflight_attempts",
			Help: "Webhook delivery attempts running in this process."}),
		fanoutLag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_webhook_fanout_lag_events",
			Help: "Events of the feed after the webhook fan-out's checkpoint."}),
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_webhook_pending_deliveries",
			Help: "Webhook deliveries waiting for an attempt or a retry (enabled endpoints)."}),
		oldestPendingAt: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_webhook_oldest_pending_age_seconds",
			Help: "Age of the oldest pending webhook delivery of an enabled endpoint (0: none)."}),
	}
}

func (m metrics) register(r prometheus.Registerer) error {
	for _, result := range []string{"success", "http_error", "network_error"} {
		m.attempts.WithLabelValues(result) // exported at 0 from the start
	}
	for _, outcome := range []string{StatusDelivered, StatusFailed} {
		m.deliveries.WithLabelValues(outcome)
	}
	for _, c := range []prometheus.Collector{m.attempts, m.deliveries, m.attemptSeconds, m.inflight, m.fanoutLag, m.pending, m.oldestPendingAt} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("webhook metrics: %w", err)
		}
	}
	return nil
}

func (m metrics) observe(o outcome) {
	m.attemptSeconds.Observe(o.latency.Seconds())
	switch {
	case o.ok():
		m.attempts.WithLabelValues("success").Inc()
	case o.err != nil:
		m.attempts.WithLabelValues("network_error").Inc()
	default:
		m.attempts.WithLabelValues("http_error").Inc()
	}
}

// watchLag refreshes the lag gauges every LagInterval until ctx ends.
func (s *Service) watchLag(ctx context.Context) {
	for {
		if err := s.measure(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Debug().Err(err).Msg("webhooks: measuring the lag")
		}
		if wait.Sleep(ctx, s.cfg.LagInterval) != nil {
			return
		}
	}
}

func (s *Service) measure(ctx context.Context) error {
	head, err := s.events.Head(ctx)
	if err != nil {
		return err
	}
	pos, err := s.cons.Position(ctx)
	if err != nil {
		return err
	}
	s.m.fanoutLag.Set(float64(int64(head) - int64(pos))) //nolint:gosec // positions fit
	var n int64
	var oldest *time.Time
	err = s.pool.QueryRow(ctx, `SELECT count(*), min(d.created_at) FROM webhook_deliveries d
JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled WHERE d.status = 'pending'`).Scan(&n, &oldest)
	if err != nil {
		return err
	}
	s.m.pending.Set(float64(n))
	age := 0.0
	if oldest != nil {
		age = s.cfg.Now().Sub(*oldest).Seconds()
	}
	s.m.oldestPendingAt.Set(age)
	return nil
}
