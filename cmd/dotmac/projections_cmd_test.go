package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/projections"
)

// TestProjectionsListSaysNotRunning: a projection whose registry state is running but whose
// live build's lease nobody holds (no server runs) is listed as not running, not as running
// with a growing lag (issue 17, item 6).
func TestProjectionsListSaysNotRunning(t *testing.T) {
	t.Parallel()
	last := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	sts := []projections.Status{
		{Name: "invoices", State: projections.StateRunning, Version: 1, CodeVersion: 1, Position: 10, Head: 50, LagEvents: 40, RenewedAt: &last},
		{Name: "balances", State: projections.StateRunning, Version: 1, CodeVersion: 1, Position: 50, Head: 50, Holder: "host-1-ab", RenewedAt: &last},
		{Name: "journal", State: projections.StateStalled, Version: 1, CodeVersion: 1, Position: 7, Head: 50, Error: "boom"},
	}
	var table bytes.Buffer
	require.NoError(t, printStatusTable(&table, sts))
	lines := bytes.Split(bytes.TrimSpace(table.Bytes()), []byte("\n"))
	require.Len(t, lines, 4)
	assert.Contains(t, string(lines[1]), "not running")
	assert.NotContains(t, string(lines[2]), "not running")
	assert.Contains(t, string(lines[2]), "running")
	assert.Contains(t, string(lines[3]), "stalled", "a stall is reported as such")

	var details bytes.Buffer
	require.NoError(t, printStatusDetails(&details, sts[:2]))
	assert.Contains(t, details.String(), "state:       not running")
	assert.Contains(t, details.String(), "projector:   none (last heartbeat 2026-03-01T10:00:00Z)")
	assert.Contains(t, details.String(), "projector:   host-1-ab")
}
