package main

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/commands/csvimport"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
)

// rejectedRowsError makes `import` exit with status 2 when it rejected rows.
type rejectedRowsError struct{ n int }

func (e rejectedRowsError) Error() string { return fmt.Sprintf("%d row(s) rejected", e.n) }
func (e rejectedRowsError) ExitCode() int { return 2 }

type importFlags struct {
	storage                                     storeFlags
	tenant                                      string
	plans, customers, services, openingBalances string
	dryRun                                      bool
	report                                      string
}

func newImport(g *globalFlags) *cobra.Command {
	f := &importFlags{}
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Move customers over from another system: plans, customers, services and opening balances from CSV files",
		Long: `Import records the rows of CSV files through the command handlers, as the HTTP API would: plans
(--plans), customers (--customers), services (--services) and opening balances
(--opening-balances); any of them, recorded in that order. See docs/billing-calendar.md,
"Moving customers over", for the columns and the rules, and docs/examples/import/ for a worked
import.

Every file is read first: a file that cannot be read (binary, a broken quote, a missing or unknown
column, a header that is not UTF-8) stops the import before anything is recorded. A row the rules
refuse is rejected, with its file, line, column and reason, and the import goes on. Importing the
same files again appends nothing: every row already imported is reported unchanged.

--dry-run runs the same handlers over the ledger without recording anything, and reports the same
rows, rejections and event counts.

Exit status: 0 when every row was created or unchanged, 2 when any was rejected, 1 when the
import could not run.`,
		Example: `  dotmac import --tenant acme --plans plans.csv --customers customers.csv \
    --services services.csv --opening-balances opening-balances.csv --dry-run
  dotmac import --tenant acme --customers customers.csv --report rejected.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runImport(cmd.Context(), cmd.OutOrStdout(), g, f) },
	}
	fs := cmd.Flags()
	f.storage.bind(fs)
	fs.StringVar(&f.tenant, "tenant", "", "tenant to import into (required)")
	fs.StringVar(&f.plans, "plans", "", "plans CSV file")
	fs.StringVar(&f.customers, "customers", "", "customers CSV file")
	fs.StringVar(&f.services, "services", "", "services CSV file")
	fs.StringVar(&f.openingBalances, "opening-balances", "", "opening balances CSV file")
	fs.BoolVar(&f.dryRun, "dry-run", false, "check and count everything, record nothing")
	fs.StringVar(&f.report, "report", "", "write the rejected rows to this CSV file (file,line,column,reason)")
	return cmd
}

func runImport(ctx context.Context, out io.Writer, g *globalFlags, f *importFlags) (err error) {
	if f.tenant == "" {
		return errors.New("--tenant is required")
	}
	tenant, err := domain.ParseTenantID(f.tenant)
	if err != nil {
		return fmt.Errorf("--tenant: %w", err)
	}
	files, closeFiles, err := f.open()
	if err != nil {
		return err
	}
	defer closeFiles()
	log, err := g.logger()
	if err != nil {
		return err
	}
	b, err := openBackend(ctx, log, g, &f.storage, true)
	if err != nil {
		return err
	}
	defer b.close(log)
	if !f.dryRun {
		// A running server's process managers leave the tenant alone meanwhile: the history
		// imported is back-dated, and its invoices may be past due by today (process.Holds).
		release, holdErr := holdTenant(ctx, process.NewHolds(b.pool), tenant, "import")
		if holdErr != nil {
			return holdErr
		}
		defer func() { err = errors.Join(err, release()) }()
	}
	bar := newImportBar(os.Stderr)
	sum, err := csvimport.Run(ctx, csvimport.Config{Store: b.store, Tenant: tenant, DryRun: f.dryRun,
		Numbers: pgstore.NewNumbers(b.pool, pgstore.Options{}), Index: pgstore.NewIndex(b.pool, b.store),
		Progress: func(done, total int) { bar.ChangeMax(total); _ = bar.Set(done) }}, files)
	_ = bar.Finish()
	if err != nil {
		return err
	}
	return reportImport(out, sum, f.report)
}

// open opens the files given; at least one is required.
func (f *importFlags) open() (csvimport.Files, func(), error) {
	var files csvimport.Files
	var opened []*os.File
	closeAll := func() {
		for _, o := range opened {
			_ = o.Close()
		}
	}
	for _, p := range []struct {
		path string
		dst  **csvimport.File
	}{{f.plans, &files.Plans}, {f.customers, &files.Customers}, {f.services, &files.Services}, {f.openingBalances, &files.OpeningBalances}} {
		if p.path == "" {
			continue
		}
		o, err := os.Open(p.path) // #nosec G304 -- the operator names the files to import
		if err != nil {
			closeAll()
			return files, nil, err
		}
		opened = append(opened, o)
		*p.dst = &csvimport.File{Name: filepath.Base(p.path), Data: o}
	}
	if len(opened) == 0 {
		return files, nil, errors.New("nothing to import: give --plans, --customers, --services or --opening-balances")
	}
	return files, closeAll, nil
}

// reportImport prints the summary and the rejected rows, writes the report file, and returns
// a rejectedRowsError when rows were rejected.
func reportImport(out io.Writer, sum csvimport.Summary, report string) error {
	if err := printImportSummary(out, sum); err != nil {
		return err
	}
	if report != "" {
		if err := writeRejections(report, sum.Rejections); err != nil {
			return fmt.Errorf("--report: %w", err)
		}
	}
	if sum.Rejected() {
		return rejectedRowsError{n: len(sum.Rejections)}
	}
	return nil
}

func printImportSummary(out io.Writer, sum csvimport.Summary) error {
	width := len("FILE")
	for _, f := range sum.Files {
		width = max(width, len(f.File))
	}
	fmt.Fprintf(out, "%-*s  %6s  %8s  %10s  %9s\n", width, "FILE", "ROWS", "CREATED", "UNCHANGED", "REJECTED")
	for _, f := range sum.Files {
		fmt.Fprintf(out, "%-*s  %6d  %8d  %10d  %9d\n", width, f.File, f.Rows, f.Created, f.Unchanged, f.Rejected)
	}
	if sum.DryRun {
		fmt.Fprintf(out, "events appended: %d (dry run: nothing was recorded)\n", sum.Events)
	} else {
		fmt.Fprintf(out, "events appended: %d\n", sum.Events)
	}
	if sum.Rejected() {
		fmt.Fprintf(out, "\nrejected rows:\n")
	}
	for _, r := range sum.Rejections {
		fmt.Fprintf(out, "  %s\n", r)
	}
	return nil
}

// writeRejections writes the rejected rows as CSV: file, line, column, reason.
func writeRejections(path string, rejections []csvimport.Rejection) error {
	o, err := os.Create(path) // #nosec G304 -- the operator names the report file
	if err != nil {
		return err
	}
	w := csv.NewWriter(o)
	_ = w.Write([]string{"file", "line", "column", "reason"})
	for _, r := range rejections {
		_ = w.Write([]string{r.File, strconv.Itoa(r.Line), r.Column, r.Reason})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		_ = o.Close()
		return err
	}
	return o.Close()
}

// newImportBar returns a progress bar of rows on w when w is a terminal, else one that draws
// nothing.
func newImportBar(w io.Writer) *progressbar.ProgressBar {
	visible := true
	if f, ok := w.(*os.File); !ok || !isatty.IsTerminal(f.Fd()) {
		// Invisible, not merely discarded: a visible bar of unknown length spins in a goroutine
		// of its own, whose render races with Set and Finish (seen under -race), as newBar's.
		w, visible = io.Discard, false
	}
	return progressbar.NewOptions(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetVisibility(visible), progressbar.OptionSetDescription("importing"),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())
}
