package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/cmd/dotmac/bench"
	"github.com/dotmac/ledger/internal/pgprovision"
)

func newBench(g *globalFlags) *cobra.Command {
	var d dbFlags
	var scenarios, jsonOut string
	cfg := bench.Config{}
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure appends, commands, rebuilds, queries, lag, verification and memory beside their baselines",
		Long: `Bench creates its own scratch database on the PostgreSQL server (never touching the live one),
runs each scenario, and prints a table of each figure beside the baseline measured in the same
run: single-row INSERT transactions per second with 16 clients (pgbench where installed, else
the same transaction through pgx) and one set-based SQL aggregate over the rebuild's events.
When the commands scenario runs, the same transaction also runs at its client count, and its
p99 is set beside the commands' p99: the host's own tail at that concurrency. The command, query and lag scenarios run against 'dotmac serve' started as a child process,
whose peak memory is reported.`,
		Example: `  dotmac bench                                   # every scenario, 1,000,000 events
  dotmac bench --scenario rebuild,verify --events 200000
  dotmac bench --events 10000 --duration 2s --json bench.json   # a smoke run`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			if scenarios != "all" {
				cfg.Scenarios = strings.Split(scenarios, ",")
			}
			res, err := pgprovision.Provision(cmd.Context(), pgprovision.Options{DatabaseURL: d.url,
				DataDir: filepath.Join(g.dataDir.path, "postgres"), Logger: log})
			if err != nil {
				return err
			}
			defer func() { _ = res.Stop(cmd.Context()) }()
			if cfg.Binary == "" {
				if cfg.Binary, err = os.Executable(); err != nil {
					return err
				}
			}
			cfg.ServerURL, cfg.Logger = res.URL, log
			bar := newBar(cmd.ErrOrStderr(), "bench", "")
			step := ""
			cfg.Progress = func(s string, done, total int64) {
				if s != step {
					step = s
					bar.Describe(s)
				}
				if total > 0 {
					bar.ChangeMax64(total)
					_ = bar.Set64(done)
				}
			}
			report, err := bench.Run(cmd.Context(), cfg)
			_ = bar.Finish()
			if report != nil {
				if jsonOut != "" {
					if werr := writeJSONFile(jsonOut, report); werr != nil && err == nil {
						err = werr
					}
				}
				fmt.Fprintln(cmd.OutOrStdout())
				_ = report.PrintTable(cmd.OutOrStdout())
			}
			return err
		},
	}
	fs := cmd.Flags()
	stringFlag(fs, &d.url, "database-url", "DATABASE_URL", "", "PostgreSQL URL of the server to benchmark on (a scratch database is created there)")
	fs.StringVar(&scenarios, "scenario", "all", "comma-separated scenarios: all, "+strings.Join(bench.AllScenarios, ", "))
	fs.IntVar(&cfg.Events, "events", 1_000_000, "events the rebuild and verify scenarios generate through the domain")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "length of each load phase (baseline, append, commands, each query rate)")
	fs.IntVar(&cfg.Clients, "clients", 64, "concurrent appenders and command clients")
	fs.IntSliceVar(&cfg.QueryRates, "query-rates", []int{1000, 5000}, "fixed query rates to report (req/s)")
	fs.IntVar(&cfg.BillingQueryRate, "billing-query-rate", bench.DefaultBillingQueryRate, "the portal's read rate during the billing_run scenario (req/s); 0: the run alone")
	fs.IntVar(&cfg.BillingCustomers, "billing-customers", 0, "customers with one active service each to add in bulk for the billing_run scenario, besides the history's")
	fs.StringVar(&cfg.Binary, "server-binary", "", "the dotmac binary the server under test runs (default: this one), to compare two builds' servers on the same set-up")
	fs.BoolVar(&cfg.RolesApart, "roles-apart", false, "run the server under test's command, query and projector roles in a process each, as deploy/ does (default: one process, as make run)")
	fs.StringVar(&jsonOut, "json", "", "also write the JSON report to this file")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the scratch database afterwards")
	fs.StringVar(&cfg.ProfileDir, "profile-dir", "", "save CPU and allocation profiles and the metrics of the server under test during the commands and query scenarios here")
	return cmd
}
