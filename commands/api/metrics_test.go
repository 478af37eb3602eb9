package api_test

import (
	"net/http"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// metricSum adds the values of the series of family name whose labels include want.
func metricSum(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			match := true
			for k, v := range want {
				match = match && labels[k] == v
			}
			if !match {
				continue
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestMetrics: commands are counted by command and outcome, and their latency and the append
// latency are observed.
func TestMetrics(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	e.must(http.StatusOK, tok, "/v1/customers/"+customer+"/contact", exampleBody("updateCustomerContact", nil))
	e.must(http.StatusOK, tok, "/v1/customers/"+customer+"/contact", exampleBody("updateCustomerContact", nil))
	e.must(http.StatusUnprocessableEntity, tok, "/v1/customers/"+customer+"/payments", map[string]any{"amount": money("1.00", "EUR"), "method": "card"})
	e.must(http.StatusNotFound, tok, "/v1/plans/nope/retire", nil)

	count := func(command, outcome string) float64 {
		return metricSum(t, e.registry, "dotmac_commands_total", map[string]string{"command": command, "outcome": outcome})
	}
	assert.InDelta(t, 1, count("RegisterCustomer", "ok"), 0)
	assert.InDelta(t, 1, count("UpdateCustomerContact", "ok"), 0)
	assert.InDelta(t, 1, count("UpdateCustomerContact", "noop"), 0)
	assert.InDelta(t, 1, count("RecordPayment", "rejected"), 0)
	assert.InDelta(t, 1, count("RetirePlan", "not_found"), 0)
	assert.InDelta(t, 5, metricSum(t, e.registry, "dotmac_command_duration_seconds", nil), 0)
	assert.InDelta(t, 2, metricSum(t, e.registry, "dotmac_command_append_duration_seconds", map[string]string{"stream": "customer", "result": "ok"}), 0)
}
