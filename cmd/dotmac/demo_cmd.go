package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/gctune"
)

// defaultSeedWorkers is how many customers demo seed simulates at once.
const defaultSeedWorkers = 48

type demoSeedFlags struct {
	storage   storeFlags
	tenant    string
	customers int
	months    int
	start     string
	seed      uint64
	graceDays int
	workers   int
	json      bool
}

func newDemo(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Demo data",
	}
	cmd.AddCommand(newDemoSeed(g))
	return cmd
}

func newDemoSeed(g *globalFlags) *cobra.Command {
	f := &demoSeedFlags{}
	cmd := &cobra.Command{
		Use:   "seed",
		Short: "Seed realistic ISP history through the real command handlers",
		Long: `Seed simulates an ISP day by day (the customer simulator, domain/domainsim) and records it through
the command handlers, deciding every command at its simulated instant: the catalog (fiber_100,
fiber_500, dsl_20 retired in the second month, voip, fiber_1000 launched in the third), customers
with one to three services and often a one-off installation invoice, a billing run
(RunBilling) on the first of each month billing the month before, payments (most on time, some
late, partial or missing; a few overpaid and refunded), overdue marks and dunning suspensions
and resumptions (the process managers' own policies on the simulated calendar), and a few credit
notes, plan changes, holds, contact updates, technician visits (some voided), terminations and
deactivations. The first customers of every fifty each show one rare activity, so even
--customers 12 --months 3 shows every kind. Seed an empty tenant: the tenant must have no billing
run for --start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDemoSeed(cmd.Context(), cmd.OutOrStdout(), g, f) },
	}
	fs := cmd.Flags()
	f.storage.bind(fs)
	fs.StringVar(&f.tenant, "tenant", "demo", "tenant to seed")
	fs.IntVar(&f.customers, "customers", 100, "number of customers")
	fs.IntVar(&f.months, "months", 12, "number of months to simulate")
	fs.StringVar(&f.start, "start", "2025-01", "first month (YYYY-MM)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed: the same seed makes the same choices")
	intFlag(fs, &f.graceDays, "grace-days", "DOTMAC_DUNNING_GRACE_DAYS", process.DefaultGraceDays,
		"days past due before dunning suspends")
	fs.IntVar(&f.workers, "workers", defaultSeedWorkers, "customers simulated at once (the same seed makes the same history whatever the workers)")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
	return cmd
}

// config is the simulation the flags ask for, in USD.
func (f *demoSeedFlags) config() (domainsim.Config, error) {
	if _, err := domain.ParseTenantID(f.tenant); err != nil {
		return domainsim.Config{}, fmt.Errorf("--tenant: %w", err)
	}
	start, err := domain.ParsePeriod(f.start)
	if err != nil {
		return domainsim.Config{}, fmt.Errorf("--start: %w", err)
	}
	switch {
	case f.customers < 1 || f.customers > domainsim.MaxCustomers:
		return domainsim.Config{}, fmt.Errorf("--customers: want 1 to %d", domainsim.MaxCustomers)
	case f.months < 1 || f.months > domainsim.MaxMonths:
		return domainsim.Config{}, fmt.Errorf("--months: want 1 to %d", domainsim.MaxMonths)
	case f.graceDays < 0 || f.graceDays > domain.MaxGraceDays:
		return domainsim.Config{}, fmt.Errorf("--grace-days: want 0 to %d", domain.MaxGraceDays)
	}
	return domainsim.Config{Tenants: []domainsim.Tenant{{Name: f.tenant, Currency: "USD"}}, Customers: f.customers,
		Months: f.months, Start: start, Seed: f.seed, GraceDays: f.graceDays, Workers: min(max(1, f.workers), domainsim.MaxWorkers)}, nil
}

func runDemoSeed(ctx context.Context, out io.Writer, g *globalFlags, f *demoSeedFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	cfg, err := f.config()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, log, g, &f.storage, true)
	if err != nil {
		return err
	}
	defer b.close(log)
	h, err := commands.New(commands.Config{Store: b.store,
		Numbers: pgstore.NewNumbers(b.pool, pgstore.Options{AsyncCommit: f.storage.backend == "postgres"}),
		Index:   pgstore.NewIndex(b.pool, b.store)})
	if err != nil {
		return err
	}
	// The seed allocates fast (every stream read preallocates its page) on a box whose CPU
	// PostgreSQL needs too; memory is cheaper here than collector time.
	defer gctune.Batch()()
	sum, err := seedDemo(ctx, b.store, h, process.NewHolds(b.pool), cfg, newSeedBar(os.Stderr, cfg.Customers*cfg.Months))
	if err != nil {
		return err
	}
	if f.json {
		return printJSON(out, sum)
	}
	return sum.print(out)
}

// seedSummary is what demo seed reports.
type seedSummary struct {
	Tenant         string          `json:"tenant"`
	Customers      int             `json:"customers"`
	Months         int             `json:"months"`
	From           string          `json:"from"`
	To             string          `json:"to"`
	Created        map[string]int  `json:"created"`
	Commands       int64           `json:"commands"`
	Events         int64           `json:"events"`
	ElapsedSeconds float64         `json:"elapsed_seconds"`
	stats          domainsim.Stats // the simulation's counts, for tests
}

// seedDemo simulates cfg through the command handlers (handlerSink) and summarizes it;
// events are counted from the store's head. A tenant with a billing run for cfg.Start is
// refused: it has been seeded.
func seedDemo(ctx context.Context, store eventstore.Store, h *commands.Handlers, holds *process.Holds, cfg domainsim.Config,
	bar *progressbar.ProgressBar) (_ seedSummary, err error) {
	began := time.Now()
	tenant, err := domain.ParseTenantID(cfg.Tenants[0].Name)
	if err != nil {
		return seedSummary{}, err
	}
	if run, _, err := h.BillingRun(ctx, tenant, cfg.Start); err != nil {
		return seedSummary{}, err
	} else if run.Started() {
		return seedSummary{}, fmt.Errorf("tenant %s already has a billing run for %s: seed another --tenant or --start", tenant, cfg.Start)
	}
	// A running server's process managers leave the tenant alone while it is seeded: its
	// history's invoices are all past due by today's date (process.Holds).
	release, err := holdTenant(ctx, holds, tenant, "demo seed")
	if err != nil {
		return seedSummary{}, err
	}
	defer func() { err = errors.Join(err, release()) }()
	before, err := store.Head(ctx)
	if err != nil {
		return seedSummary{}, err
	}
	sink, err := newHandlerSink(ctx, store, h, cfg.GraceDays)
	if err != nil {
		return seedSummary{}, err
	}
	cfg.Progress = func(int, int) { _ = bar.Add(1) }
	stats, err := domainsim.Run(cfg, sink)
	_ = bar.Finish()
	if err != nil {
		return seedSummary{}, err
	}
	after, err := store.Head(ctx)
	if err != nil {
		return seedSummary{}, err
	}
	return seedSummary{Tenant: tenant.String(), Customers: cfg.Customers, Months: cfg.Months, From: cfg.Start.String(),
		To: lastPeriod(cfg).String(), Created: stats.Activities, Commands: sink.commands.Load(),
		Events: int64(after) - int64(before), ElapsedSeconds: time.Since(began).Seconds(), stats: stats}, nil //nolint:gosec // positions fit
}

// lastPeriod is the last month cfg simulates.
func lastPeriod(cfg domainsim.Config) domain.Period {
	p := cfg.Start
	for range cfg.Months - 1 {
		p = p.Next()
	}
	return p
}

func (s seedSummary) print(w io.Writer) error {
	fmt.Fprintf(w, "Seeded tenant %s: %d customers, %s to %s, in %.1fs\n\n", s.Tenant, s.Customers, s.From, s.To, s.ElapsedSeconds)
	for _, name := range domainsim.Activities() {
		fmt.Fprintf(w, "  %-22s %8d\n", name, s.Created[name])
	}
	fmt.Fprintf(w, "  %-22s %8d\n  %-22s %8d\n", "commands", s.Commands, "events", s.Events)
	_, err := fmt.Fprintf(w, "\n%.0f events/s, %.0f commands/s\n", float64(s.Events)/s.ElapsedSeconds, float64(s.Commands)/s.ElapsedSeconds)
	return err
}

// newSeedBar returns a progress bar of customer-months on w when w is a terminal, else one
// that draws nothing.
func newSeedBar(w io.Writer, total int) *progressbar.ProgressBar {
	if f, ok := w.(*os.File); !ok || !isatty.IsTerminal(f.Fd()) {
		w = io.Discard
	}
	return progressbar.NewOptions(total, progressbar.OptionSetWriter(w), progressbar.OptionSetDescription("seeding"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("customer-months"),
		progressbar.OptionSetPredictTime(true), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}
