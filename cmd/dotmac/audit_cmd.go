package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/gctune"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
)

// findingsError makes `audit verify` exit with status 2 when it found problems.
type findingsError struct{ n int }

func (e findingsError) Error() string { return fmt.Sprintf("verification found %d problem(s)", e.n) }
func (e findingsError) ExitCode() int { return 2 }

type auditFlags struct {
	storage storeFlags
	tenant  string
	json    bool
}

func newAudit(g *globalFlags) *cobra.Command {
	f := &auditFlags{}
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Replay, verify and export the ledger straight from the event store (never the read models)",
	}
	f.storage.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().StringVar(&f.tenant, "tenant", "", "tenant whose data to read")
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
	cmd.AddCommand(newAuditHistory(g, f), newAuditAsOf(g, f), newAuditVerify(g, f), newAuditExport(g, f), newAuditSign(g, f))
	return cmd
}

// withAuditor opens the event store (without migrating) and runs fn with an Auditor.
func withAuditor(cmd *cobra.Command, g *globalFlags, f *auditFlags, fn func(*audit.Auditor) error) error {
	return withBackend(cmd, g, f, func(_ *backend, a *audit.Auditor) error { return fn(a) })
}

func withBackend(cmd *cobra.Command, g *globalFlags, f *auditFlags, fn func(*backend, *audit.Auditor) error) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	b, err := openBackend(cmd.Context(), log, g, &f.storage, false)
	if err != nil {
		return err
	}
	defer b.close(log)
	b.log = log
	return fn(b, audit.New(b.store))
}

// checkDrift compares every read model with a fresh fold (see audit.CheckDrift), through a
// projection runtime that is not started: the serving process keeps projecting meanwhile.
func checkDrift(cmd *cobra.Command, b *backend) ([]audit.DriftReport, error) {
	ctx := cmd.Context()
	if err := migrate.Up(ctx, b.pool, projections.MigrationSet()); err != nil {
		return nil, err
	}
	rt, err := projections.New(ctx, b.pool, b.store, registeredProjections(), projections.Options{Logger: b.log})
	if err != nil {
		return nil, err
	}
	defer rt.Stop()
	return audit.CheckDrift(ctx, rt, b.pool, func(name string) {
		if f, ok := cmd.ErrOrStderr().(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			fmt.Fprintf(f, "comparing read model %s with a fresh fold...\n", name)
		}
	})
}

func (f *auditFlags) tenantID() (domain.TenantID, error) {
	if f.tenant == "" {
		return domain.TenantID{}, errors.New("--tenant is required")
	}
	return domain.ParseTenantID(f.tenant)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newAuditHistory(g *globalFlags, f *auditFlags) *cobra.Command {
	var customer, invoice, payment, creditNote, service, stream, from, to string
	cmd := &cobra.Command{
		Use:   "history",
		Short: "Every event of a stream (customer, service, plan) or of one invoice, payment or credit note",
		Example: `  dotmac audit history --tenant acme --customer 0194...
  dotmac audit history --tenant acme --customer 0194... --invoice 0194...
  dotmac audit history --tenant acme --service 0194... --from 2026-01-01 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			q, err := historyQuery(f, stream, customer, service, invoice, payment, creditNote)
			if err != nil {
				return err
			}
			if q.From, err = parseDay(from); err != nil {
				return fmt.Errorf("--from: %w", err)
			}
			if q.To, err = parseDay(to); err != nil {
				return fmt.Errorf("--to: %w", err)
			}
			return withAuditor(cmd, g, f, func(a *audit.Auditor) error {
				h, err := a.History(cmd.Context(), q)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), h)
				}
				return printHistory(cmd.OutOrStdout(), h)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&stream, "stream", "", "a stream id, as stored")
	fs.StringVar(&customer, "customer", "", "a customer id (its account stream)")
	fs.StringVar(&service, "service", "", "a service id")
	fs.StringVar(&invoice, "invoice", "", "an invoice id, with --customer")
	fs.StringVar(&payment, "payment", "", "a payment id, with --customer")
	fs.StringVar(&creditNote, "credit-note", "", "a credit note id, with --customer")
	fs.StringVar(&from, "from", "", "only events recorded on or after this date (YYYY-MM-DD)")
	fs.StringVar(&to, "to", "", "only events recorded before this date (YYYY-MM-DD)")
	return cmd
}

func historyQuery(f *auditFlags, stream, customer, service, invoice, payment, creditNote string) (audit.HistoryQuery, error) {
	if stream != "" {
		return audit.HistoryQuery{Stream: stream}, nil
	}
	tenant, err := f.tenantID()
	if err != nil {
		return audit.HistoryQuery{}, err
	}
	if service != "" {
		id, err := domain.ParseServiceID(service)
		return audit.HistoryQuery{Stream: domain.ServiceStream(tenant, id)}, err
	}
	if customer == "" {
		return audit.HistoryQuery{}, errors.New("name what to show: --customer, --service or --stream")
	}
	id, err := domain.ParseCustomerID(customer)
	if err != nil {
		return audit.HistoryQuery{}, err
	}
	q := audit.HistoryQuery{Stream: domain.CustomerStream(tenant, id)}
	for field, v := range map[string]string{"invoice_id": invoice, "payment_id": payment, "credit_note_id": creditNote} {
		if v != "" {
			q.Entity, q.EntityID = field, v
		}
	}
	return q, nil
}

func printHistory(w io.Writer, h []audit.HistoryEntry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POSITION\tVERSION\tTYPE\tOCCURRED\tRECORDED\tACTOR\tCORRELATION\tHASH")
	for _, e := range h {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s…\n", e.Position, e.Version, e.Type, e.OccurredAt.Format(time.RFC3339),
			e.RecordedAt.Format(time.RFC3339), e.Actor, e.CorrelationID, e.Hash[:16])
	}
	return tw.Flush()
}

func parseDay(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.DateOnly, s)
}

// parseCutoff reads --date or --position (exactly one, or neither for "now").
func parseCutoff(date string, position uint64) (audit.Cutoff, error) {
	if date != "" && position != 0 {
		return audit.Cutoff{}, errors.New("give --date or --position, not both")
	}
	d, err := parseDay(date)
	if err != nil {
		return audit.Cutoff{}, fmt.Errorf("--date: %w", err)
	}
	return audit.Cutoff{Date: d, Position: eventstore.Position(position)}, nil
}

func newAuditAsOf(g *globalFlags, f *auditFlags) *cobra.Command {
	var customer, date string
	var position uint64
	var trial bool
	cmd := &cobra.Command{
		Use:   "as-of",
		Short: "A customer's account and balance, or the trial balance, replayed up to a date or position",
		Long: `As-of replays the event store (never the read models) up to a cutoff.

With --date the balance goes by business date: it sums every journal entry dated on or before
that day (an invoice's issue date, a payment's received date, an opening balance's as-of),
including entries recorded later about it (a back-dated payment, a customer moved over with
dotmac import); a customer's state (invoices, payments) is what had been recorded by the end of
that day. With --position both go by the events up to that position. The output says which
("balance by business date"; JSON "balance_by": "business_date" or "position").`,
		Example: `  dotmac audit as-of --tenant acme --customer 0194... --date 2026-03-31
  dotmac audit as-of --tenant acme --trial-balance --position 120000`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			tenant, err := f.tenantID()
			if err != nil {
				return err
			}
			cut, err := parseCutoff(date, position)
			if err != nil {
				return err
			}
			return withAuditor(cmd, g, f, func(a *audit.Auditor) error {
				if trial {
					tb, err := a.TrialBalanceAsOf(cmd.Context(), tenant, cut)
					if err != nil {
						return err
					}
					if f.json {
						return printJSON(cmd.OutOrStdout(), tb)
					}
					fmt.Fprintln(cmd.OutOrStdout(), balanceByText(cut))
					return printTrialBalance(cmd.OutOrStdout(), tb.Lines)
				}
				id, err := domain.ParseCustomerID(customer)
				if err != nil {
					return fmt.Errorf("--customer: %w", err)
				}
				c, err := a.CustomerAsOf(cmd.Context(), tenant, id, cut)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), c)
				}
				return printCustomerAsOf(cmd.OutOrStdout(), c, cut)
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&customer, "customer", "", "the customer id")
	fs.BoolVar(&trial, "trial-balance", false, "the tenant's trial balance instead of a customer")
	fs.StringVar(&date, "date", "", "replay up to the end of this business day (YYYY-MM-DD): the balance sums the entries dated up to it")
	fs.Uint64Var(&position, "position", 0, "replay up to this global position")
	return cmd
}

func printTrialBalance(w io.Writer, lines []audit.LedgerLine) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "ACCOUNT\tNAME\tCURRENCY\tDEBIT\tCREDIT\t")
	for _, l := range lines {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t\n", l.Account, l.Name, l.Currency, l.Debit, l.Credit)
	}
	return tw.Flush()
}

// balanceByText says what an as-of balance goes by.
func balanceByText(cut audit.Cutoff) string {
	if !cut.Date.IsZero() {
		return "balance by business date: the journal entries dated up to " + cut.Date.Format(time.DateOnly) + ", whenever recorded"
	}
	if cut.IsZero() {
		return "balance by position: every event recorded"
	}
	return fmt.Sprintf("balance by position: the events up to position %d", cut.Position)
}

func printCustomerAsOf(w io.Writer, c *audit.CustomerAsOf, cut audit.Cutoff) error {
	fmt.Fprintf(w, "customer %s (%s), replayed %d events\nbalance %s %s  (receivable %s, credit %s), %d payments\n",
		c.CustomerID, c.Name, len(c.Events), c.Balance, c.Currency, c.Receivable, c.Credit, c.Payments)
	fmt.Fprintln(w, balanceByText(cut))
	if c.Note != "" {
		fmt.Fprintf(w, "note: %s\n", c.Note)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "INVOICE\tNUMBER\tSTATUS\tISSUED\tDUE\tTOTAL\tOUTSTANDING")
	for _, inv := range c.Invoices {
		status := inv.Status
		if inv.Overdue {
			status += " (overdue)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", inv.InvoiceID, inv.Number, status, inv.IssueDate, inv.DueDate, inv.Total, inv.Outstanding)
	}
	return tw.Flush()
}

func newAuditVerify(g *globalFlags, f *auditFlags) *cobra.Command {
	var to uint64
	var report, export string
	var deep, skipDrift bool
	var keyFiles []string
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Recompute every hash chain and check the ledger; exit status 2 on any finding",
		Long: `Verify reads the whole feed and checks: every stream's hash chain (reporting the first broken
link: stream, version, expected and stored hash), stream versions without gaps, dense global
positions and recorded-at order (PostgreSQL backend), that every money event decodes and its
journal entry balances, and that each tenant's journal sums to zero per currency. --deep also
decodes every other event and folds every customer account through the domain, checking its
invariants and that its balance equals AR minus customer credit in the journal. It prints a
feed digest to keep: a later 'verify --to <head>' must reproduce it.

It also checks the feed against every signed checkpoint (audit_checkpoints): with --public-key
each signature must verify, and the events of each checkpoint's span must give its signed
digest; a history rewritten with recomputed hashes is reported with the first event that
differs from the signed one (forged_event). Without --public-key the digests are compared but
the report lists the signatures as not checked. With --export DIR it checks an export instead,
with no database: see docs/audit.md.`,
		Example: `  dotmac audit verify --public-key signing.key.pub
  dotmac audit verify --export exports/2026-03 --public-key signing.key.pub`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := publicKeys(keyFiles)
			if err != nil {
				return err
			}
			if export != "" {
				return verifyExport(cmd, f, export, keys)
			}
			defer gctune.Batch()()
			return withBackend(cmd, g, f, func(b *backend, a *audit.Auditor) error {
				bar := newBar(cmd.ErrOrStderr(), "verify", "events")
				r, err := a.Verify(cmd.Context(), audit.VerifyOptions{To: eventstore.Position(to), Tenant: f.tenant, Deep: deep,
					DensePositions: f.storage.backend == "postgres" && f.tenant == "",
					Checkpoints:    audit.NewCheckpointStore(b.pool), PublicKeys: keys,
					Progress: func(done, total int64) { bar.ChangeMax64(total); _ = bar.Set64(done) }})
				_ = bar.Finish()
				if err != nil {
					return err
				}
				if skipDrift {
					r.SkipDrift()
				} else {
					drift, err := checkDrift(cmd, b)
					if err != nil {
						return err
					}
					r.AddDrift(drift)
				}
				if report != "" {
					if err := writeJSONFile(report, r); err != nil {
						return err
					}
				}
				if f.json {
					if err := printJSON(cmd.OutOrStdout(), r); err != nil {
						return err
					}
				} else {
					printVerify(cmd.OutOrStdout(), r)
				}
				if !r.OK {
					return findingsError{n: len(r.Findings)}
				}
				return nil
			})
		},
	}
	cmd.Flags().Uint64Var(&to, "to", 0, "verify up to this position (default: the head)")
	cmd.Flags().StringVar(&report, "report", "", "also write the JSON report to this file")
	cmd.Flags().BoolVar(&deep, "deep", false, "also decode every event and fold every customer account (about half the speed)")
	cmd.Flags().BoolVar(&skipDrift, "skip-drift", false, "skip comparing every read model with a fresh fold of the events")
	cmd.Flags().StringArrayVar(&keyFiles, "public-key", nil, "PEM public key the checkpoints must be signed with (repeat for keys of earlier years)")
	cmd.Flags().StringVar(&export, "export", "", "verify this export directory (no database needed) instead of the event store")
	return cmd
}

// verifyExport checks an export with the public keys alone.
func verifyExport(cmd *cobra.Command, f *auditFlags, dir string, keys audit.PublicKeys) error {
	v, err := audit.VerifyExport(dir, keys)
	if err != nil {
		return err
	}
	w := cmd.OutOrStdout()
	if f.json {
		if err := printJSON(w, v); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "export %s: %d event(s), %d proven by %d signed checkpoint(s)\n", dir, v.Events, v.Signed, v.Checkpoints)
		for _, n := range v.NotProven {
			fmt.Fprintln(w, "not proven:", n)
		}
		for _, p := range v.Problems {
			fmt.Fprintln(w, "  -", p)
		}
		if v.OK {
			fmt.Fprintln(w, "OK: the rows are those the signed events give, and every file matches the manifest")
		}
	}
	if !v.OK {
		return findingsError{n: len(v.Problems)}
	}
	return nil
}

func printVerify(w io.Writer, r *audit.Report) {
	counted := fmt.Sprintf("%d money events", r.MoneyEvents)
	if r.Accounts != nil {
		counted += fmt.Sprintf(", %d accounts folded", *r.Accounts)
	}
	fmt.Fprintf(w, "verified %d events in %d streams (%s) up to position %d in %.2fs: %.0f events/s\n",
		r.Events, r.Streams, counted, r.Head, r.Seconds, r.EventsPerSecond)
	fmt.Fprintf(w, "checks: %s\n", strings.Join(r.Checks, ", "))
	if len(r.NotChecked) > 0 {
		skipped := make([]string, 0, len(r.NotChecked))
		for _, n := range r.NotChecked {
			skipped = append(skipped, n.String())
		}
		fmt.Fprintf(w, "not checked: %s\n", strings.Join(skipped, ", "))
	}
	fmt.Fprintf(w, "feed digest: %s\n", r.FeedDigest)
	if c := r.Checkpoints; c != nil && c.Checkpoints > 0 {
		fmt.Fprintf(w, "signed checkpoints: %d through position %d (last signed %s), signatures checked: %v, %d event(s) after it unsigned\n",
			c.Checkpoints, c.SignedThrough, c.LastSignedAt.Format(time.RFC3339), c.SignaturesChecked, c.UnsignedEvents)
	}
	for _, d := range r.Drift {
		fmt.Fprintf(w, "read model %s: %d tables compared with a fresh fold at position %d in %.2fs, %d finding(s)\n",
			d.Projection, d.Tables, d.Position, d.Seconds, len(d.Findings))
	}
	if r.OK {
		fmt.Fprintln(w, "OK: no findings")
		return
	}
	fmt.Fprintf(w, "%d finding(s):\n", len(r.Findings))
	for _, f := range r.Findings {
		fmt.Fprintln(w, "  -", f.String())
		if f.Expected != "" || f.Stored != "" {
			fmt.Fprintf(w, "      expected %s\n      stored   %s\n", f.Expected, f.Stored)
		}
	}
}

func newAuditExport(g *globalFlags, f *auditFlags) *cobra.Command {
	var period, out, check string
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export a period's journal, invoices and payments (CSV + JSON Lines + manifest), or check an export",
		Example: `  dotmac audit export --tenant acme --period 2026-03 --out exports/2026-03
  dotmac audit export --check exports/2026-03`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if check != "" {
				problems, err := audit.CheckExport(check)
				if err != nil {
					return err
				}
				for _, p := range problems {
					fmt.Fprintln(cmd.OutOrStdout(), p)
				}
				if len(problems) > 0 {
					return findingsError{n: len(problems)}
				}
				fmt.Fprintln(cmd.OutOrStdout(), "OK: every file matches the manifest")
				return nil
			}
			tenant, err := f.tenantID()
			if err != nil {
				return err
			}
			p, err := domain.ParsePeriod(period)
			if err != nil {
				return fmt.Errorf("--period: %w", err)
			}
			if out == "" {
				out = "export-" + tenant.String() + "-" + p.String()
			}
			return withBackend(cmd, g, f, func(b *backend, a *audit.Auditor) error {
				m, err := a.WithCheckpoints(audit.NewCheckpointStore(b.pool)).Export(cmd.Context(), tenant, p, out)
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), m)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "exported %s %s to %s (up to position %d, %d signed checkpoint(s)):\n", m.Tenant, m.Period, out, m.Head, m.SignedCheckpoints)
				for _, file := range m.Files {
					fmt.Fprintf(cmd.OutOrStdout(), "  %-16s %6d rows  sha256 %s\n", file.Name, file.Rows, file.SHA256)
				}
				return nil
			})
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&period, "period", "", "the month to export (YYYY-MM)")
	fs.StringVar(&out, "out", "", "directory to write (default export-<tenant>-<period>)")
	fs.StringVar(&check, "check", "", "check an export directory against its manifest instead")
	return cmd
}

// newBar returns a progress bar on w when w is a terminal, else one that draws nothing.
func newBar(w io.Writer, description, unit string) *progressbar.ProgressBar {
	visible := true
	if f, ok := w.(*os.File); !ok || !isatty.IsTerminal(f.Fd()) {
		// Invisible, not merely discarded: a visible bar of unknown length spins in a goroutine
		// of its own, whose render races with Finish (seen under -race).
		w, visible = io.Discard, false
	}
	return progressbar.NewOptions64(-1, progressbar.OptionSetWriter(w), progressbar.OptionSetVisibility(visible), progressbar.OptionSetDescription(description),
		progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString(unit),
		progressbar.OptionThrottle(200*time.Millisecond), progressbar.OptionClearOnFinish())
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}
