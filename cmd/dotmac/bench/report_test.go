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
			Work: &Work{Commits: 0.09, RowsWritten: 21.5, BufferAccesses: 120, BufferReads: 14.2, BackendWrites: 0.25, WALBytes: 7168}},
	}}
	var out bytes.Buffer
	require.NoError(t, r.PrintTable(&out))
	s := out.String()
	assert.Contains(t, s, "every invoice projected")
	assert.Contains(t, s, "3.2 s after the run's end")
	assert.Contains(t, s, "CPU per invoice: server 420 us, PostgreSQL 510 us, load 20 us")
	assert.Contains(t, s, "950 us: 2 cores allow <= 2105/s")
	assert.Contains(t, s, "work per invoice: 0.09 commits, 21.5 rows written")
	assert.Contains(t, s, "120 buffers (14 read, 0.25 written by backends)")
	assert.Contains(t, s, "(7.0 KB)")
	assert.Contains(t, s, "CPU per command: server 300 us")
	assert.Contains(t, s, "work per command: 0.60 commits")
}

// TestPrintTableTailBaseline: the baseline line gives the single-row inserts' rate and
// latencies at the commands' client count, and the commands' p99 is set beside them.
func TestPrintTableTailBaseline(t *testing.T) {
	t.Parallel()
	r := &Report{
		Baseline: Baseline{TxPerS: 7751, Tool: "pgbench",
			AtCommandClients: &TailBaseline{Clients: 64, TxPerS: 5399, P50MS: 9.2, P99MS: 38.1}},
		Scenarios: Scenarios{Commands: &Commands{Clients: 64, CommandsPerS: 2698, P50MS: 19.9, P99MS: 67.8, BaselineTxPerS: 7751, Ratio: 0.35}},
	}
	var out bytes.Buffer
	require.NoError(t, r.PrintTable(&out))
	s := out.String()
	assert.Contains(t, s, "baseline: 7751 single-row insert tx/s (16 clients, pgbench); at 64 clients 5399 tx/s, p50 9.2 ms, p99 38.1 ms\n")
	assert.Regexp(t, `p99 beside the host's own at 64 clients +single-row insert p99 38\.1 ms +x1\.78`, s)

	r.Baseline = Baseline{TxPerS: 7751, Tool: "pgx"}
	out.Reset()
	require.NoError(t, r.PrintTable(&out))
	assert.Contains(t, out.String(), "baseline: 7751 single-row insert tx/s (16 clients, pgx)\n")
	assert.NotContains(t, out.String(), "beside the host's own")
}

// TestPrintTableSaysHowManyReadsFailed: the reads' p99 is of the successful answers, so the
// share of those that were not (refused as busy, timed out) is printed beside it; nothing when
// every read succeeded.
func TestPrintTableSaysHowManyReadsFailed(t *testing.T) {
	t.Parallel()
	r := &Report{Baseline: Baseline{TxPerS: 10000, Tool: "pgbench"}, Scenarios: Scenarios{
		BillingRun: &BillingRun{Customers: 100, Seconds: 1, InvoicesPerS: 100, QueryRate: 1000, QueryP99MS: 12, QuerySuccess: 0.8},
		Query:      &Query{P99MSAt1000: 9, SuccessAt1000: 1},
	}}
	var out bytes.Buffer
	require.NoError(t, r.PrintTable(&out))
	s := out.String()
	assert.Contains(t, s, "query p99 12.0 ms (20.0 % of the reads not answered 2xx)")
	assert.Contains(t, s, "query p99 at 1,000 req/s")
	assert.NotContains(t, s, "9.0 ms (", "every read at 1,000 req/s succeeded")
}

// TestPrintTableSaysWhenMemoryPeaked: the server's peak RSS names the phase it was reached
// in and the highest of the others, so a start over a large history and the serving are told
// apart; a report without phases prints the peak alone.
func TestPrintTableSaysWhenMemoryPeaked(t *testing.T) {
	t.Parallel()
	r := &Report{Scenarios: Scenarios{Memory: &Memory{ServerRSSMBMax: 357.4,
		ByPhase: map[string]float64{"start": 357.4, "commands": 214.2, "billing_run": 301.9}}}}
	var out bytes.Buffer
	require.NoError(t, r.PrintTable(&out))
	assert.Regexp(t, `server RSS, max +357 MB, during start; 302 MB at most in billing_run +<= 256 MB`, out.String())

	r.Scenarios.Memory = &Memory{ServerRSSMBMax: 214, ByPhase: map[string]float64{"commands": 214}}
	out.Reset()
	require.NoError(t, r.PrintTable(&out))
	assert.Regexp(t, `server RSS, max +214 MB, during commands +<= 256 MB`, out.String())

	r.Scenarios.Memory = &Memory{ServerRSSMBMax: 214}
	out.Reset()
	require.NoError(t, r.PrintTable(&out))
	assert.Regexp(t, `server RSS, max +214 MB +<= 256 MB`, out.String())
}
