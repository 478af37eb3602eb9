package projections

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runtime's Prometheus series (namespace dotmac, subsystem projection).
type metrics struct {
	lagEvents, lagSeconds, checkpoint, stalled *prometheus.GaugeVec
	stalledTenants                             *prometheus.GaugeVec
	head                                       prometheus.Gauge
	events                                     *prometheus.CounterVec
	batchSeconds                               *prometheus.HistogramVec
	delaySeconds, slotWaitSeconds              *prometheus.HistogramVec
	rebuildPosition, rebuildTarget, rebuildEPS *prometheus.GaugeVec
	partitionsTotal, partitionsOwned           *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: "dotmac", Subsystem: "projection", Name: name, Help: help}, labels)
	}
	m := &metrics{
		lagEvents:  gauge("lag_events", "Events between the live build's checkpoint and the head.", "projection"),
		lagSeconds: gauge("lag_seconds", "How long the oldest event the live build has not applied has waited (0 when caught up).", "projection"),
		checkpoint: gauge("checkpoint", "Position of the last event the live build applied.", "projection"),
		stalled:    gauge("stalled", "1 while the projection is stalled as a whole (a state left by an older binary).", "projection"),
		stalledTenants: gauge("stalled_tenants",
			"Tenants whose events the live build has stopped applying (an event it could not decode or apply), until retried.", "projection"),
		head: prometheus.NewGauge(prometheus.GaugeOpts{Namespace: "dotmac", Subsystem: "projection", Name: "head",
			Help: "Position of the newest event in the store."}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "dotmac", Subsystem: "projection", Name: "events_applied_total",
			Help: "Events applied, by projection and mode (live, replay = catch-up of the live build, rebuild)."}, []string{"projection", "mode"}),
		batchSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "dotmac", Subsystem: "projection", Name: "live_batch_seconds",
			Help: "Time to apply and commit one live batch.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"projection"}),
		slotWaitSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "dotmac", Subsystem: "projection", Name: "live_slot_wait_seconds",
			Help:    "Time a live batch waited for its turn among the process's live batches (Options.LiveConcurrency) before it began; batches that did not wait are not counted.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)}, []string{"projection"}),
		delaySeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: "dotmac", Subsystem: "projection", Name: "apply_delay_seconds",
			Help:    "Time from an event's commit to the commit of the live batch that applied it (oldest event of each batch).",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16)}, []string{"projection"}),
		rebuildPosition: gauge("rebuild_position", "Checkpoint of the build being rebuilt.", "projection"),
		rebuildTarget:   gauge("rebuild_target", "Position the rebuild is heading for.", "projection"),
		rebuildEPS:      gauge("rebuild_events_per_second", "Average replay rate of the running rebuild.", "projection"),
		partitionsTotal: gauge("partitions", "Tenant-hash partitions of the live build.", "projection"),
		partitionsOwned: gauge("partitions_owned", "Partitions of the live build this process applies (holds the lease of).", "projection"),
	}
	var err error
	reg1 := func(c *prometheus.GaugeVec) *prometheus.GaugeVec {
		var got *prometheus.GaugeVec
		got, err = registerAs(reg, c, err)
		return got
	}
	m.lagEvents, m.lagSeconds, m.checkpoint, m.stalled = reg1(m.lagEvents), reg1(m.lagSeconds), reg1(m.checkpoint), reg1(m.stalled)
	m.stalledTenants = reg1(m.stalledTenants)
	m.rebuildPosition, m.rebuildTarget, m.rebuildEPS = reg1(m.rebuildPosition), reg1(m.rebuildTarget), reg1(m.rebuildEPS)
	m.partitionsTotal, m.partitionsOwned = reg1(m.partitionsTotal), reg1(m.partitionsOwned)
	m.head, err = registerAs(reg, m.head, err)
	m.events, err = registerAs(reg, m.events, err)
	m.batchSeconds, err = registerAs(reg, m.batchSeconds, err)
	m.delaySeconds, err = registerAs(reg, m.delaySeconds, err)
	m.slotWaitSeconds, err = registerAs(reg, m.slotWaitSeconds, err)
	if err != nil {
		return nil, err
	}
	return m, nil
}

// registerAs registers c, or returns the collector another runtime on the same registry
// registered under that name (they then share the series). It does nothing after an error.
func registerAs[T prometheus.Collector](reg prometheus.Registerer, c T, prev error) (T, error) {
	if prev != nil {
		return c, prev
	}
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(T); ok {
			return existing, nil
		}
		return c, fmt.Errorf("projections: metric registered with another type: %w", err)
	}
	return c, err
}

// observe sets the lag gauges from a status sample.
func (m *metrics) observe(sts []Status) {
	for _, st := range sts {
		m.head.Set(float64(st.Head))
		m.lagEvents.WithLabelValues(st.Name).Set(float64(st.LagEvents))
		m.lagSeconds.WithLabelValues(st.Name).Set(st.LagSeconds)
		m.checkpoint.WithLabelValues(st.Name).Set(float64(st.Position))
		stalled := 0.0
		if st.State == StateStalled {
			stalled = 1
		}
		m.stalled.WithLabelValues(st.Name).Set(stalled)
		m.stalledTenants.WithLabelValues(st.Name).Set(float64(st.StalledTenantCount))
	}
}

func (m *metrics) applied(name, mode string, n int, took time.Duration) {
	m.events.WithLabelValues(name, mode).Add(float64(n))
	if mode == "live" {
		m.batchSeconds.WithLabelValues(name).Observe(took.Seconds())
	}
}

func (m *metrics) partitions(name string, n, owned int) {
	m.partitionsTotal.WithLabelValues(name).Set(float64(n))
	m.partitionsOwned.WithLabelValues(name).Set(float64(owned))
}

func (m *metrics) slotWait(name string, d time.Duration) {
	m.slotWaitSeconds.WithLabelValues(name).Observe(d.Seconds())
}

func (m *metrics) delay(name string, d time.Duration) {
	m.delaySeconds.WithLabelValues(name).Observe(max(0, d.Seconds()))
}

func (m *metrics) rebuildProgress(p Progress) {
	m.rebuildPosition.WithLabelValues(p.Projection).Set(float64(p.Position))
	m.rebuildTarget.WithLabelValues(p.Projection).Set(float64(p.Target))
	m.rebuildEPS.WithLabelValues(p.Projection).Set(p.EventsPerSecond)
}

func (m *metrics) rebuildDone(name string) {
	m.rebuildPosition.DeleteLabelValues(name)
	m.rebuildTarget.DeleteLabelValues(name)
	m.rebuildEPS.DeleteLabelValues(name)
}
