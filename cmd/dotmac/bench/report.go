package bench

import (
	"cmp"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the JSON report. Keys are stable; scenarios not run are omitted.
type Report struct {
	Started   time.Time `json:"started_at"`
	Finished  time.Time `json:"finished_at"`
	Machine   Machine   `json:"machine"`
	Config    RunConfig `json:"config"`
	Baseline  Baseline  `json:"baseline"`
	Scenarios Scenarios `json:"scenarios"`
}

// Machine describes where the run happened.
type Machine struct {
	CPUs      int    `json:"cpus"`
	GoVersion string `json:"go_version"`
	// Postgres is the server's version; PostgresSettings the settings that change what the
	// figures mean (see postgresSettings); PostgresNotes serve's warnings about them.
	Postgres         string            `json:"postgres"`
	PostgresSettings map[string]string `json:"postgres_settings,omitempty"`
	PostgresNotes    []string          `json:"postgres_notes,omitempty"`
}

// RunConfig echoes the run's size.
type RunConfig struct {
	Events     int     `json:"events"`
	DurationS  float64 `json:"duration_s"`
	Clients    int     `json:"clients"`
	QueryRates []int   `json:"query_rates"`
	// RolesApart: the command, query and projector roles ran in a process each
	// (--roles-apart), as deploy/ runs them.
	RolesApart bool `json:"roles_apart,omitempty"`
}

// Baseline holds the physical limits measured in the same run.
type Baseline struct {
	// TxPerS is single-row INSERT transactions per second with 16 clients.
	TxPerS float64 `json:"single_row_insert_tx_per_s"`
	// Tool is "pgbench" or "pgx" (pgbench's transaction reproduced).
	Tool string `json:"tool"`
	// AtCommandClients is the same transaction at the commands scenario's client count, measured
	// when that scenario runs: what the host's own simplest durable write waits at the
	// concurrency the commands' p99 is measured at.
	AtCommandClients *TailBaseline `json:"at_command_clients,omitempty"`
}

// TailBaseline is the single-row INSERT transaction at some number of clients: its rate and
// latencies.
type TailBaseline struct {
	Clients int     `json:"clients,omitempty"`
	TxPerS  float64 `json:"tx_per_s"`
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
}

// Scenarios holds one entry per scenario run.
type Scenarios struct {
	Append   *Append   `json:"append,omitempty"`
	Commands *Commands `json:"commands,omitempty"`
	// CommandsHot is RecordPayment on one customer, at each client count.
	CommandsHot []Commands  `json:"commands_hot,omitempty"`
	BillingRun  *BillingRun `json:"billing_run,omitempty"`
	Rebuild     *Rebuild    `json:"rebuild,omitempty"`
	Query       *Query      `json:"query,omitempty"`
	Lag         *Lag        `json:"lag,omitempty"`
	Verify      *Verify     `json:"verify,omitempty"`
	Memory      *Memory     `json:"memory,omitempty"`
}

// Append is the event store's append throughput.
type Append struct {
	EventsPerS      float64 `json:"events_per_s"`
	BaselineTxPerS  float64 `json:"baseline_tx_per_s"`
	Ratio           float64 `json:"ratio"`
	Batch100EventsS float64 `json:"batch_100_events_per_s"`
	Appenders       int     `json:"appenders"`
}

// Commands is RecordPayment over HTTP.
type Commands struct {
	CommandsPerS float64 `json:"commands_per_s"`
	P50MS        float64 `json:"p50_ms"`
	P95MS        float64 `json:"p95_ms"`
	P99MS        float64 `json:"p99_ms"`
	// P99BySecondMS is each second's p99 in ms, from the first command sent (null: none sent
	// then): whether the run was slow all along or in a few bad seconds.
	P99BySecondMS  []*float64 `json:"p99_by_second_ms"`
	BaselineTxPerS float64    `json:"baseline_tx_per_s"`
	Ratio          float64    `json:"ratio"`
	Clients        int        `json:"clients"`
	Errors         uint64     `json:"errors"`
	// CPU is what one command cost every process involved (absent off Linux).
	CPU *CPU `json:"cpu_per_command,omitempty"`
	// Work is what one command asked of PostgreSQL and of the server's heap (absent when
	// the counters could not be read).
	Work *Work `json:"work_per_command,omitempty"`
}

// Rebuild is the rebuild of the invoices, balances and journal projections.
type Rebuild struct {
	Events              int64   `json:"events"`
	EventsPerS          float64 `json:"events_per_s"`
	BaselineEventsPerS  float64 `json:"baseline_events_per_s"`
	Ratio               float64 `json:"ratio"`
	Seconds             float64 `json:"seconds"`
	GenerateSeconds     float64 `json:"generate_seconds"`
	GeneratedEventsPerS float64 `json:"generated_events_per_s"`
}

// Query is the query API at fixed rates.
type Query struct {
	P99MSAt1000 float64 `json:"p99_ms_at_1000"`
	// SuccessAt1000 is the lowest share of successful answers among the endpoints at 1,000
	// req/s: the p99s are of those (a read the server refused as busy is not a latency).
	SuccessAt1000    float64     `json:"success_at_1000"`
	MaxRateP99Le10MS int         `json:"max_rate_p99_le_10ms"`
	Rates            []QueryRate `json:"rates"`
}

// QueryRate is one endpoint at one rate.
type QueryRate struct {
	Endpoint string  `json:"endpoint"`
	Rate     int     `json:"rate"`
	Achieved float64 `json:"achieved_rate"`
	P50MS    float64 `json:"p50_ms"`
	P99MS    float64 `json:"p99_ms"`
	Success  float64 `json:"success"`
}

// Lag is live projection lag while commands run.
type Lag struct {
	P50MS   float64 `json:"p50_ms"`
	P99MS   float64 `json:"p99_ms"`
	MaxMS   float64 `json:"max_ms"`
	Samples int     `json:"samples"`
}

// Verify is audit verify's speed.
type Verify struct {
	EventsPerS     float64 `json:"events_per_s"`
	DeepEventsPerS float64 `json:"deep_events_per_s"`
	// BaselineEventsPerS reads the same events out of PostgreSQL and discards them (COPY TO):
	// the most any check of the whole feed can do.
	BaselineEventsPerS float64 `json:"baseline_events_per_s"`
	Ratio              float64 `json:"ratio"`
	Events             int     `json:"events"`
	OK                 bool    `json:"ok"`
}

// Memory is the server's resident memory: its peak, and the peak of each phase (its start
// over the generated history, then each scenario it served).
type Memory struct {
	ServerRSSMBMax float64            `json:"server_rss_mb_max"`
	ByPhase        map[string]float64 `json:"server_rss_mb_max_by_phase,omitempty"`
}

// peakPhase names the phase in which the peak was reached, and the next highest (", during
// start; 214 MB at most in commands"), when the peaks by phase are known.
func (m *Memory) peakPhase() string {
	phases := slices.SortedFunc(maps.Keys(m.ByPhase), func(a, b string) int {
		return cmp.Or(cmp.Compare(m.ByPhase[b], m.ByPhase[a]), strings.Compare(a, b))
	})
	switch len(phases) {
	case 0:
		return ""
	case 1:
		return ", during " + phases[0]
	}
	return fmt.Sprintf(", during %s; %.0f MB at most in %s", phases[0], m.ByPhase[phases[1]], phases[1])
}

func newReport(c Config) *Report {
	return &Report{Started: time.Now().UTC(), Machine: Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		Config: RunConfig{Events: c.Events, DurationS: c.Duration.Seconds(), Clients: c.Clients, QueryRates: c.QueryRates,
			RolesApart: c.RolesApart}}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// PrintTable writes the report as a table: each figure beside its baseline and its target.
func (r *Report) PrintTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if line := r.Machine.postgresLine(); line != "" {
		fmt.Fprintln(tw, line)
	}
	if r.Config.RolesApart {
		fmt.Fprintln(tw, "server under test: the command (with the process managers), query and projector roles in a process each")
	}
	fmt.Fprintf(tw, "baseline: %.0f single-row insert tx/s (16 clients, %s)", r.Baseline.TxPerS, r.Baseline.Tool)
	if t := r.Baseline.AtCommandClients; t != nil {
		fmt.Fprintf(tw, "; at %d clients %.0f tx/s, p50 %.1f ms, p99 %.1f ms", t.Clients, t.TxPerS, t.P50MS, t.P99MS)
	}
	fmt.Fprint(tw, "\n\n")
	fmt.Fprintln(tw, "SCENARIO\tFIGURE\tBASELINE\tRATIO\tTARGET")
	s := r.Scenarios
	if a := s.Append; a != nil {
		fmt.Fprintf(tw, "append (%d appenders x 1 event)\t%.0f events/s\t%.0f tx/s\t%.2f\t>= 1.0\n", a.Appenders, a.EventsPerS, a.BaselineTxPerS, a.Ratio)
		fmt.Fprintf(tw, "append (100 events per append)\t%.0f events/s\t\t\t\n", a.Batch100EventsS)
	}
	if c := s.Commands; c != nil {
		fmt.Fprintf(tw, "commands over HTTP (%d clients)\t%.0f/s, p50 %.1f ms, p99 %.1f ms\t%.0f tx/s\t%.2f\t>= 0.25, p99 <= 50 ms\n",
			c.Clients, c.CommandsPerS, c.P50MS, c.P99MS, c.BaselineTxPerS, c.Ratio)
		if t := r.Baseline.AtCommandClients; t != nil && t.P99MS > 0 {
			fmt.Fprintf(tw, "  p99 beside the host's own at %d clients\tsingle-row insert p99 %.1f ms\t\tx%.2f\t\n", t.Clients, t.P99MS, c.P99MS/t.P99MS)
		}
		printCPU(tw, c.CPU, "command")
		printWork(tw, c.Work, "command")
	}
	for _, c := range s.CommandsHot {
		fmt.Fprintf(tw, "commands on one customer (%d clients)\t%.0f/s, p50 %.1f ms, p99 %.1f ms\t%.0f tx/s\t%.2f\t>= 1,000/s, p99 <= 50 ms\n",
			c.Clients, c.CommandsPerS, c.P50MS, c.P99MS, c.BaselineTxPerS, c.Ratio)
		printCPU(tw, c.CPU, "command")
		printWork(tw, c.Work, "command")
	}
	if b := s.BillingRun; b != nil && b.QueryRate == 0 {
		fmt.Fprintf(tw, "billing run (%d customers), no reads meanwhile\t%.0f invoices/s in %.1f s\t%.0f tx/s\t%.2f\t>= 1,700/s\n",
			b.Customers, b.InvoicesPerS, b.Seconds, b.BaselineTxPerS, b.Ratio)
	} else if b != nil {
		fmt.Fprintf(tw, "billing run (%d customers), query p99 meanwhile at %d req/s\t%.0f invoices/s in %.1f s, query p99 %.1f ms%s\t%.0f tx/s\t%.2f\t>= 1,700/s, query p99 <= 50 ms\n",
			b.Customers, b.QueryRate, b.InvoicesPerS, b.Seconds, b.QueryP99MS, failedShare(b.QuerySuccess), b.BaselineTxPerS, b.Ratio)
		fmt.Fprintf(tw, "  reads second by second\t%d of %d seconds with p99 over 50 ms, the worst %.1f ms\t\t\t\n",
			b.QuerySecondsOver50ms, b.QuerySeconds, b.QueryWorstSecondP99MS)
	}
	if b := s.BillingRun; b != nil {
		fmt.Fprintf(tw, "  every invoice projected\t%.1f s after the run's end\t\t\t\n", b.ProjectedAfterS)
		printCPU(tw, b.CPU, "invoice")
		printWork(tw, b.Work, "invoice")
	}
	if b := s.Rebuild; b != nil {
		fmt.Fprintf(tw, "rebuild invoices+balances+journal (%d events)\t%.0f events/s\t%.0f events/s (SQL aggregate)\t%.2f\t>= 100,000 events/s\n",
			b.Events, b.EventsPerS, b.BaselineEventsPerS, b.Ratio)
	}
	if q := s.Query; q != nil {
		fmt.Fprintf(tw, "query p99 at 1,000 req/s\t%.1f ms%s\t\t\t<= 10 ms\n", q.P99MSAt1000, failedShare(q.SuccessAt1000))
		fmt.Fprintf(tw, "query: highest rate with p99 <= 10 ms\t%d req/s\t\t\t>= 5,000 req/s\n", q.MaxRateP99Le10MS)
	}
	if l := s.Lag; l != nil {
		fmt.Fprintf(tw, "projection lag under commands\tp50 %.0f ms, p99 %.0f ms\t\t\tp99 <= 1,000 ms\n", l.P50MS, l.P99MS)
	}
	if v := s.Verify; v != nil {
		fmt.Fprintf(tw, "audit verify (%d events)\t%.0f events/s (deep %.0f)\t%.0f events/s (COPY the feed out)\t%.2f\t>= 200,000 events/s\n",
			v.Events, v.EventsPerS, v.DeepEventsPerS, v.BaselineEventsPerS, v.Ratio)
	}
	if m := s.Memory; m != nil {
		fmt.Fprintf(tw, "server RSS, max\t%.0f MB%s\t\t\t<= 256 MB\n", m.ServerRSSMBMax, m.peakPhase())
	}
	return tw.Flush()
}

// printWork writes the line under a figure's CPU: what one command (or invoice: unit) asked
// of PostgreSQL and of the server's heap.
func printWork(w io.Writer, k *Work, unit string) {
	if k == nil {
		return
	}
	fmt.Fprintf(w, "  work per %s: %.2f commits, %.1f rows written, %.0f buffers (%s read, %s written by backends), %.1f WAL records (%.1f KB)\tserver allocated %.1f KB\t\t\t\n",
		unit, k.Commits, k.RowsWritten, k.BufferAccesses, smallCount(k.BufferReads), smallCount(k.BackendWrites), k.WALRecords, k.WALBytes/1024, k.ServerAllocatedBytes/1024)
}

// smallCount formats a count per command that is often a fraction of one.
func smallCount(v float64) string {
	if v >= 10 {
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// printCPU writes the line under a figure: the CPU one command (or invoice: unit) cost each
// process and the rate the host's cores allow at that cost.
func printCPU(w io.Writer, c *CPU, unit string) {
	if c == nil {
		return
	}
	fmt.Fprintf(w, "  CPU per %s: server %.0f us, PostgreSQL %.0f us, load %.0f us\t%.0f us: %d cores allow <= %.0f/s\t\t\t\n",
		unit, c.ServerUS, c.PostgresUS, c.LoadGeneratorUS, c.TotalUS, c.Cores, c.CeilingPerS)
}

// failedShare says, beside a p99 of the successful answers, how many requests were not
// answered successfully (refused as busy, timed out, failed); nothing when all were.
func failedShare(success float64) string {
	if success >= 1 {
		return ""
	}
	return fmt.Sprintf(" (%.1f %% of the reads not answered 2xx)", 100*(1-success))
}
