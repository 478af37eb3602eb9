package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
)

// TestShutdownLogSaysWhatWasDrained: "shutdown complete" names each step with what it drained
// (the projections' checkpoints, the connections still in use) and how long it took, and the
// total from the stop signal. A fake clock makes the durations exact.
func TestShutdownLogSaysWhatWasDrained(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(10 * time.Millisecond); return now }
	sd := newShutdown(clock)
	sd.stopSignal()
	sd.step("process_managers", func() *zerolog.Event { return nil })
	sd.step("projectors", func() *zerolog.Event {
		return checkpoints([]projections.Status{{Name: "customers", Position: 42, State: "live"}})
	})
	sd.step("database", func() *zerolog.Event { return zerolog.Dict().Int32("connections_in_use_at_close", 1) })
	var out strings.Builder
	sd.log(zerolog.New(&out))

	var line struct {
		Message string         `json:"message"`
		TookMS  int64          `json:"took_ms"`
		Steps   map[string]any `json:"steps"`
	}
	require.NoError(t, json.Unmarshal([]byte(out.String()), &line), out.String())
	assert.Equal(t, "shutdown complete", line.Message)
	assert.Equal(t, int64(70), line.TookMS, "from the stop signal to the end")
	step := func(name string) map[string]any {
		m, ok := line.Steps[name].(map[string]any)
		require.True(t, ok, "step %s in %s", name, out.String())
		return m
	}
	assert.InDelta(t, 10, step("process_managers")["took_ms"], 0)
	assert.InDelta(t, 1, step("database")["connections_in_use_at_close"], 0)
	customers, _ := step("projectors")["projections"].(map[string]any)["customers"].(map[string]any)
	assert.InDelta(t, 42, customers["checkpoint"], 0)
	assert.Equal(t, "live", customers["state"])
}
