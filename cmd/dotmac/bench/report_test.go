package bench

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestPrintTableBillingRun: a bill day's figure is followed by when its invoices were all
// projected, and by its CPU and work per invoice, named so; a commands figure keeps "per
// command".
func TestPrintTableBillingRun(t *testing.T) {
	t.Parallel()
	r := &Report{Baseline: Baseline{TxPerS: 10000, Tool: "pgbench"}, Scenarios: Scenarios{
		Commands: &Commands{Clients: 64, CommandsPerS: 2000, CPU: &CPU{ServerUS: 300, Cores: 2}, Work: &Work{Commits: 0.6}},
		BillingRun: &BillingRun{Customers: 100165, Seconds: 50, InvoicesPerS: 2003, QueryRate: 200, ProjectedAfterS: 3.25,
			CPU:  &CPU{ServerUS: 420, PostgresUS: 510, LoadGeneratorUS: 20, TotalUS: 950, Cores: 2, CeilingPerS: 2105},
			Work: &Work{Commits: 0.09, RowsWritten: 21.5, WALBytes: 7168}},
	}}
	var out bytes.Buffer
	require.NoError(t, r.PrintTable(&out))
	s := out.String()
	assert.Contains(t, s, "every invoice projected")
	assert.Contains(t, s, "3.2 s after the run's end")
	assert.Contains(t, s, "CPU per invoice: server 420 us, PostgreSQL 510 us, load 20 us")
	assert.Contains(t, s, "950 us: 2 cores allow <= 2105/s")
	assert.Contains(t, s, "work per invoice: 0.09 commits, 21.5 rows written")
	assert.Contains(t, s, "(7.0 KB)")
	assert.Contains(t, s, "CPU per command: server 300 us")
	assert.Contains(t, s, "work per command: 0.60 commits")
}
