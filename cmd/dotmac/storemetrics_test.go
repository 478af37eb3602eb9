package main

import (
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStoreMetricsCountTheWritersTransactions: each group-commit transaction is one
// observation of its duration, by result, and of the appends it carried; its events add up.
func TestStoreMetricsCountTheWritersTransactions(t *testing.T) {
	t.Parallel()
	m := newStoreMetrics()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(m))
	m.observe(24, 30, 12*time.Millisecond, nil)
	m.observe(3, 3, 40*time.Millisecond, nil)
	m.observe(1, 2, 2*time.Second, errors.New("connection reset"))

	families, err := reg.Gather()
	require.NoError(t, err)
	byName := map[string]*dto.MetricFamily{}
	for _, f := range families {
		byName[f.GetName()] = f
	}
	require.Len(t, byName, 3)

	durations := map[string]*dto.Histogram{}
	for _, metric := range byName["dotmac_eventstore_batch_duration_seconds"].GetMetric() {
		require.Len(t, metric.GetLabel(), 1)
		durations[metric.GetLabel()[0].GetValue()] = metric.GetHistogram()
	}
	require.Len(t, durations, 2, "one series per result")
	assert.Equal(t, uint64(2), durations["ok"].GetSampleCount())
	assert.InDelta(t, 0.052, durations["ok"].GetSampleSum(), 1e-9)
	assert.Equal(t, uint64(1), durations["error"].GetSampleCount())
	assert.InDelta(t, 2.0, durations["error"].GetSampleSum(), 1e-9)

	appends := byName["dotmac_eventstore_batch_appends"].GetMetric()[0].GetHistogram()
	assert.Equal(t, uint64(3), appends.GetSampleCount())
	assert.InDelta(t, 28.0, appends.GetSampleSum(), 1e-9)
	for _, b := range appends.GetBucket() {
		switch b.GetUpperBound() {
		case 1:
			assert.Equal(t, uint64(1), b.GetCumulativeCount(), "appends <= 1")
		case 4:
			assert.Equal(t, uint64(2), b.GetCumulativeCount(), "appends <= 4")
		case 16:
			assert.Equal(t, uint64(2), b.GetCumulativeCount(), "appends <= 16")
		case 32:
			assert.Equal(t, uint64(3), b.GetCumulativeCount(), "appends <= 32")
		}
	}
	assert.InDelta(t, 35.0, byName["dotmac_eventstore_batch_events_total"].GetMetric()[0].GetCounter().GetValue(), 1e-9)
}
