package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// storeMetrics are the series of the PostgreSQL event store's group-commit writer: how long
// each transaction took and how many appends it carried. A command's append waits for the
// transaction in flight and then for its own, so these say how much of a command's latency
// is the writer's.
type storeMetrics struct {
	seconds *prometheus.HistogramVec
	appends prometheus.Histogram
	events  prometheus.Counter
}

func newStoreMetrics() *storeMetrics {
	return &storeMetrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "dotmac_eventstore_batch_duration_seconds",
			Help:    "Group-commit transactions of the event store's writer, by result (ok or error).",
			Buckets: []float64{.001, .0025, .005, .0075, .01, .015, .02, .03, .05, .1, .25, .5, 1, 2.5, 5, 15},
		}, []string{"result"}),
		appends: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "dotmac_eventstore_batch_appends",
			Help:    "Appends carried by one group-commit transaction of the event store's writer.",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512},
		}),
		events: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dotmac_eventstore_batch_events_total",
			Help: "Events the event store's writer took into group-commit transactions (committed or not).",
		}),
	}
}

// observe is the writer's OnBatch.
func (m *storeMetrics) observe(appends, events int, took time.Duration, err error) {
	result := "ok"
	if err != nil {
		result = "error"
	}
	m.seconds.WithLabelValues(result).Observe(took.Seconds())
	m.appends.Observe(float64(appends))
	m.events.Add(float64(events))
}

// Describe implements prometheus.Collector.
func (m *storeMetrics) Describe(ch chan<- *prometheus.Desc) {
	m.seconds.Describe(ch)
	m.appends.Describe(ch)
	m.events.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *storeMetrics) Collect(ch chan<- prometheus.Metric) {
	m.seconds.Collect(ch)
	m.appends.Collect(ch)
	m.events.Collect(ch)
}
