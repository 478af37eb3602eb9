package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/domain"
)

// billingProgressEvery is how often `dotmac billing run` redraws its progress.
const billingProgressEvery = 200 * time.Millisecond

type billingFlags struct {
	storage storeFlags
	tenant  string
	period  string
	dueDays int
}

func newBilling(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "billing", Short: "Billing runs", Args: cobra.NoArgs}
	f := &billingFlags{}
	run := &cobra.Command{
		Use:   "run",
		Short: "Bill a tenant's period (start or continue its billing run) with a progress bar",
		Long: `Run bills every customer of --tenant with billable services for --period, as POST
/v1/billing-runs does, in this process and with a progress bar. It is idempotent: a run started
elsewhere (a server, a crashed run) is continued, customers already invoiced are skipped, and a
completed run is reported as it is. Ctrl-C stops it; running it again continues.`,
		Example: `  dotmac billing run --tenant acme --period 2026-01`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBillingCmd(cmd.Context(), cmd.OutOrStdout(), g, f)
		},
	}
	fs := run.Flags()
	f.storage.bind(fs)
	fs.StringVar(&f.tenant, "tenant", "", "tenant to bill (required)")
	fs.StringVar(&f.period, "period", "", "month to bill, YYYY-MM (required)")
	fs.IntVar(&f.dueDays, "due-days", commands.DefaultDueDays, "payment term in days of the invoices")
	cmd.AddCommand(run)
	return cmd
}

func runBillingCmd(ctx context.Context, out io.Writer, g *globalFlags, f *billingFlags) error {
	if f.tenant == "" || f.period == "" {
		return errors.New("--tenant and --period are required")
	}
	tenant, err := domain.ParseTenantID(f.tenant)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	period, err := domain.ParsePeriod(f.period)
	if err != nil {
		return fmt.Errorf("--period: %w", err)
	}
	log, err := g.logger()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, log, g, &f.storage, true)
	if err != nil {
		return err
	}
	defer b.close(log)
	h, err := commands.New(commands.Config{Store: b.store, Numbers: pgstore.NewNumbers(b.pool, pgstore.Options{}),
		Index: pgstore.NewIndex(b.pool, b.store)})
	if err != nil {
		return err
	}
	job, _, err := h.StartBillingJob(ctx, ctx, commands.Meta{Tenant: tenant, Actor: "dotmac billing run"},
		commands.RunBilling{Period: period, DueDays: f.dueDays})
	if err != nil {
		return err
	}
	res, err := followBillingJob(job, newBar(os.Stderr, "billing "+period.String(), "customers"))
	if err != nil {
		return fmt.Errorf("billing run %s of %s stopped (run it again to continue): %w", period, tenant, err)
	}
	status := "open"
	if res.Completed {
		status = "completed"
	}
	note := ""
	if !res.Changed() {
		note = " (nothing new: the run was complete already)"
	}
	_, err = fmt.Fprintf(out, "billing run %s of %s: %s, %d customers invoiced, %d skipped%s\n",
		period, tenant, status, res.CustomersInvoiced, len(res.Skipped), note)
	return err
}

// followBillingJob draws job's progress on bar until it is done, and returns its result.
func followBillingJob(job *commands.BillingJob, bar *progressbar.ProgressBar) (commands.BillingRunResult, error) {
	tick := time.NewTicker(billingProgressEvery)
	defer tick.Stop()
	draw := func() {
		invoiced, skipped, billable := job.Progress()
		if billable >= 0 {
			bar.ChangeMax(billable)
		}
		_ = bar.Set(invoiced + skipped)
	}
	for {
		select {
		case <-job.Done():
			draw()
			_ = bar.Finish()
			return job.Result()
		case <-tick.C:
			draw()
		}
	}
}
