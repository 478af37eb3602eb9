package main

import (
	"context"
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
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/gctune"
)

// Limits of demo seed.
const (
	maxSeedCustomers = 1_000_000
	maxSeedMonths    = 120
)

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
		Long: `Seed simulates an ISP month by month and records it through the command handlers, deciding every
command at its simulated instant: the catalog (fiber_100, fiber_500, dsl_20, voip), customers with
one to three services, a billing run on the first of each month, payments (most on time, some
late, partial or missing), overdue marks and dunning suspensions and resumptions (the process
managers' own policies on the simulated calendar), and a few credit notes, refunds, plan changes,
holds and terminations. Seed an empty tenant: the tenant must have no billing run for --start.`,
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
	fs.IntVar(&f.graceDays, "grace-days", envInt("DOTMAC_DUNNING_GRACE_DAYS", process.DefaultGraceDays),
		"days past due before dunning suspends (env DOTMAC_DUNNING_GRACE_DAYS)")
	fs.IntVar(&f.workers, "workers", defaultSeedWorkers, "customers simulated at once")
	fs.BoolVar(&f.json, "json", false, "print the summary as JSON")
	return cmd
}

func (f *demoSeedFlags) config() (seedConfig, error) {
	tenant, err := domain.ParseTenantID(f.tenant)
	if err != nil {
		return seedConfig{}, fmt.Errorf("--tenant: %w", err)
	}
	start, err := domain.ParsePeriod(f.start)
	if err != nil {
		return seedConfig{}, fmt.Errorf("--start: %w", err)
	}
	cur, err := domain.ParseCurrency("USD")
	if err != nil {
		return seedConfig{}, err
	}
	switch {
	case f.customers < 1 || f.customers > maxSeedCustomers:
		return seedConfig{}, fmt.Errorf("--customers: want 1 to %d", maxSeedCustomers)
	case f.months < 1 || f.months > maxSeedMonths:
		return seedConfig{}, fmt.Errorf("--months: want 1 to %d", maxSeedMonths)
	case f.graceDays < 0 || f.graceDays > domain.MaxGraceDays:
		return seedConfig{}, fmt.Errorf("--grace-days: want 0 to %d", domain.MaxGraceDays)
	}
	return seedConfig{tenant: tenant, currency: cur, customers: f.customers, months: f.months, start: start,
		seed: f.seed, graceDays: f.graceDays, workers: max(1, f.workers)}, nil
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
	sum, err := seedDemo(ctx, b.store, h, cfg, newSeedBar(os.Stderr, cfg.customers*cfg.months))
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
	Tenant         string           `json:"tenant"`
	Customers      int              `json:"customers"`
	Months         int              `json:"months"`
	From           string           `json:"from"`
	To             string           `json:"to"`
	Created        map[string]int64 `json:"created"`
	Commands       int64            `json:"commands"`
	Events         int64            `json:"events"`
	ElapsedSeconds float64          `json:"elapsed_seconds"`
}

// seedDemo runs the seeder and summarizes it; events are counted from the store's head.
func seedDemo(ctx context.Context, store eventstore.Store, h *commands.Handlers, cfg seedConfig, bar *progressbar.ProgressBar) (seedSummary, error) {
	start := time.Now()
	before, err := store.Head(ctx)
	if err != nil {
		return seedSummary{}, err
	}
	s, err := newSeeder(store, h, cfg, func() { _ = bar.Add(1) })
	if err != nil {
		return seedSummary{}, err
	}
	err = s.run(ctx)
	_ = bar.Finish()
	if err != nil {
		return seedSummary{}, err
	}
	after, err := store.Head(ctx)
	if err != nil {
		return seedSummary{}, err
	}
	last := cfg.start
	for range cfg.months - 1 {
		last = last.Next()
	}
	return seedSummary{Tenant: cfg.tenant.String(), Customers: cfg.customers, Months: cfg.months, From: cfg.start.String(),
		To: last.String(), Created: s.stats.counts(), Commands: s.stats.commands.Load(),
		Events: int64(after) - int64(before), ElapsedSeconds: time.Since(start).Seconds()}, nil //nolint:gosec // positions fit
}

// counts names every counter, in the order the summary prints them.
func (st *seedStats) counts() map[string]int64 {
	m := map[string]int64{}
	for _, kv := range st.ordered() {
		m[kv.name] = kv.n
	}
	return m
}

type namedCount struct {
	name string
	n    int64
}

func (st *seedStats) ordered() []namedCount {
	return []namedCount{
		{"plans", st.plans.Load()}, {"customers", st.customers.Load()}, {"services", st.services.Load()},
		{"billing_runs", st.billingRuns.Load()}, {"recurring_invoices", st.recurringInvoices.Load()},
		{"activation_invoices", st.activationInvoices.Load()}, {"payments", st.payments.Load()},
		{"late_payments", st.latePayments.Load()}, {"partial_payments", st.partialPayments.Load()},
		{"overpayments", st.overpayments.Load()}, {"missed_months", st.missedPayments.Load()},
		{"overdue_marks", st.overdueMarks.Load()}, {"dunning_suspensions", st.suspensions.Load()},
		{"dunning_resumptions", st.resumptions.Load()}, {"requested_holds", st.holds.Load()},
		{"hold_resumptions", st.holdResumes.Load()}, {"credit_notes", st.creditNotes.Load()},
		{"refunds", st.refunds.Load()}, {"plan_changes", st.planChanges.Load()}, {"terminations", st.terminations.Load()},
	}
}

func (s seedSummary) print(w io.Writer) error {
	fmt.Fprintf(w, "Seeded tenant %s: %d customers, %s to %s, in %.1fs\n\n", s.Tenant, s.Customers, s.From, s.To, s.ElapsedSeconds)
	var st seedStats
	for _, kv := range st.ordered() {
		fmt.Fprintf(w, "  %-22s %8d\n", kv.name, s.Created[kv.name])
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
