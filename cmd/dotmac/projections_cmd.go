package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/mattn/go-isatty"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/internal/gctune"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
)

type projectionsFlags struct {
	storage    storeFlags
	json       bool
	maxCopies  int
	partitions int
}

func newProjections(g *globalFlags) *cobra.Command {
	f := &projectionsFlags{}
	cmd := &cobra.Command{
		Use:   "projections",
		Short: "List, inspect and rebuild the projections (the read models the query API serves); list and drop as-of copies",
	}
	f.storage.bind(cmd.PersistentFlags())
	cmd.PersistentFlags().BoolVar(&f.json, "json", false, "print JSON instead of a table")
	intFlag(cmd.PersistentFlags(), &f.maxCopies, "max-copies", "DOTMAC_MAX_ASOF_COPIES", projections.DefaultMaxCopies,
		"how many as-of copies may exist at once; beyond it rebuild --into is refused until one is dropped")
	partitionsFlag(cmd.PersistentFlags(), &f.partitions)
	cmd.AddCommand(newProjectionsList(g, f), newProjectionsStatus(g, f), newProjectionsRebuild(g, f),
		newProjectionsCopies(g, f), newProjectionsDropCopy(g, f), newProjectionsRetry(g, f))
	return cmd
}

// withRuntime opens the database and event store (migrating them) and runs fn with a
// projection runtime that is not started: it reads status and rebuilds, while the serving
// processes keep projecting.
func withRuntime(cmd *cobra.Command, g *globalFlags, f *projectionsFlags, fn func(*projections.Runtime) error) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	b, err := openBackend(ctx, log, g, &f.storage, true)
	if err != nil {
		return err
	}
	defer b.close(log)
	if err := migrate.Up(ctx, b.pool, projections.MigrationSet()); err != nil {
		return fmt.Errorf("apply the projection runtime's migrations: %w", err)
	}
	rt, err := projections.New(ctx, b.pool, b.store, registeredProjections(), projections.Options{Logger: log, MaxCopies: f.maxCopies, Partitions: f.partitions})
	if err != nil {
		return err
	}
	defer rt.Stop()
	return fn(rt)
}

func newProjectionsList(g *globalFlags, f *projectionsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "Every projection: state, version, position, head, lag, stalled tenants, error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				sts, err := rt.List(cmd.Context())
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), sts)
				}
				return printStatusTable(cmd.OutOrStdout(), sts)
			})
		},
	}
}

func newProjectionsStatus(g *globalFlags, f *projectionsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "status [NAME]",
		Short: "One projection in detail (with any rebuild's progress), or every projection",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				var sts []projections.Status
				if len(args) == 1 {
					st, err := rt.Status(cmd.Context(), args[0])
					if err != nil {
						return err
					}
					sts = []projections.Status{st}
				} else {
					all, err := rt.List(cmd.Context())
					if err != nil {
						return err
					}
					sts = all
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), sts)
				}
				return printStatusDetails(cmd.OutOrStdout(), sts)
			})
		},
	}
}

func newProjectionsRebuild(g *globalFlags, f *projectionsFlags) *cobra.Command {
	var asOf, asOfBy, into string
	cmd := &cobra.Command{
		Use:   "rebuild NAME...",
		Short: "Rebuild projections from position 0 into shadow tables and swap to them, or build a point-in-time copy",
		Long: `Rebuild replays the whole history into a new build of each projection named (a shadow schema),
reading the event table directly in large batches, catches up with the live head, then swaps
the views to the new build atomically; the query API serves the old build until the swap.
Several projections named together share one replay: each event is read and decoded once.

With --into SCHEMA it builds a copy in that new schema instead, up to --as-of or up to the head,
and never touches the live build: for analysts. Copies are capped (--max-copies, default 10):
list them with dotmac projections copies and drop one with dotmac projections drop-copy NAME. --as-of is a position, an RFC 3339 time (the
events recorded by then), or a date. A date is a business date: the copy folds every event
recorded, less those that take effect after that date (a payment received later, an invoice
issued later, a service change effective later), so entries recorded afterwards about that date
are in it; only the journal and balances go by business date. --as-of-by recorded reads the
date as the end of that day UTC in recorded time instead (any projection). A copy in which the
projection folds no event is an error (exit status 1) and its schema is dropped.`,
		Example: `  dotmac projections rebuild invoices
  dotmac projections rebuild invoices balances journal
  dotmac projections rebuild journal --as-of 2026-03-31 --into journal_q1
  dotmac projections rebuild invoices --as-of 2026-03-31 --as-of-by recorded --into invoices_q1`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			defer gctune.Batch()()
			opts := projections.RebuildOptions{Into: into, By: cliUser()}
			if asOf != "" || asOfBy != "" {
				a, err := projections.ParseAsOfBy(asOf, asOfBy)
				if err != nil {
					return err
				}
				opts.AsOf = &a
			}
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				bar := newRebuildBar(cmd.ErrOrStderr())
				opts.Progress = bar.update
				ps, err := rt.RebuildMany(cmd.Context(), args, opts)
				bar.finish()
				if err != nil {
					return err
				}
				if f.json {
					return printJSON(cmd.OutOrStdout(), ps)
				}
				for _, p := range ps {
					if err := printRebuildResult(cmd.OutOrStdout(), p); err != nil {
						return err
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringVar(&asOf, "as-of", "", "build up to this point: a position, an RFC 3339 time, or a date (2006-01-02, a business date unless --as-of-by recorded); needs --into")
	cmd.Flags().StringVar(&asOfBy, "as-of-by", "", "how --as-of reads a date: business (the default; journal and balances only) or recorded (the end of that day UTC)")
	cmd.Flags().StringVar(&into, "into", "", "build a copy into this new schema, leaving the live build alone")
	return cmd
}

// errStillStalled makes retry exit 1 when a tenant failed again.
var errStillStalled = errors.New("some tenants are still stalled: see the new error ids in the log or in `dotmac projections status`")

func newProjectionsRetry(g *globalFlags, f *projectionsFlags) *cobra.Command {
	var names, tenants []string
	cmd := &cobra.Command{
		Use:   "retry",
		Short: "Replay the events of stalled tenants (after a fix) and clear their stalls",
		Long: `A projection that cannot decode or apply an event stops for that event's tenant only: the
tenant's later events are left out of the live build (its queries answer 503 with an error id)
while every other tenant's are applied. Once the cause is fixed (new code, an upcaster, repaired
data), retry replays each stalled tenant's events from the failed position up to the live build's
checkpoint with this binary's code, holding the projection's apply lock so the live projector
waits. A tenant whose events all apply is cleared and served again; one that fails again stays
stalled at the new position under a new error id, and the command exits 1. Nothing stalled:
nothing done.`,
		Example: `  dotmac projections retry
  dotmac projections retry --projection invoices --tenant acme`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				res, err := rt.Retry(cmd.Context(), projections.RetryOptions{Projections: names, Tenants: tenants})
				if err != nil {
					return err
				}
				if f.json {
					if err := printJSON(cmd.OutOrStdout(), res); err != nil {
						return err
					}
				} else {
					printRetryResults(cmd.OutOrStdout(), res)
				}
				for _, r := range res {
					if !r.Cleared {
						return errStillStalled
					}
				}
				return nil
			})
		},
	}
	cmd.Flags().StringSliceVar(&names, "projection", nil, "the projections to retry (repeat or comma-separate; default all)")
	cmd.Flags().StringSliceVar(&tenants, "tenant", nil, "the tenants to retry (repeat or comma-separate; default every stalled one)")
	return cmd
}

func printRetryResults(w io.Writer, res []projections.RetryResult) {
	if len(res) == 0 {
		fmt.Fprintln(w, "no stalled tenant: nothing to retry")
	}
	for _, r := range res {
		if r.Cleared {
			fmt.Fprintf(w, "%s: tenant %q replayed from position %d to %d: cleared\n", r.Projection, r.Tenant, r.From, r.To)
			continue
		}
		fmt.Fprintf(w, "%s: tenant %q still stalled, now at position %d (error id %s): %s\n", r.Projection, r.Tenant,
			r.Stall.Position, r.Stall.ErrorID, oneLine(r.Stall.Error, 200))
	}
}

// rebuildBar draws a rebuild's progress: a bar on a terminal, a line per phase otherwise.
type rebuildBar struct {
	w     io.Writer
	tty   bool
	mu    sync.Mutex
	bar   *progressbar.ProgressBar
	phase string
}

func newRebuildBar(w io.Writer) *rebuildBar {
	f, ok := w.(*os.File)
	return &rebuildBar{w: w, tty: ok && isatty.IsTerminal(f.Fd())}
}

func (b *rebuildBar) update(p projections.Progress) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p.Phase != b.phase {
		b.phase = p.Phase
		if !b.tty {
			fmt.Fprintf(b.w, "%s %s: %s at %d of %d\n", p.Projection, p.Build, p.Phase, p.Position, p.Target)
		}
	}
	if !b.tty {
		return
	}
	if b.bar == nil || b.bar.GetMax64() != int64(p.Target) { //nolint:gosec // positions fit
		if b.bar != nil {
			_ = b.bar.Finish()
		}
		b.bar = progressbar.NewOptions64(int64(p.Target), progressbar.OptionSetWriter(b.w), //nolint:gosec // positions fit
			progressbar.OptionSetDescription(p.Projection+" "+p.Phase), progressbar.OptionShowCount(), progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("events"), progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth(),
			progressbar.OptionThrottle(100*time.Millisecond))
	}
	b.bar.Describe(fmt.Sprintf("%s %s (%.0f events/s)", p.Projection, p.Phase, p.EventsPerSecond))
	_ = b.bar.Set64(int64(p.Position)) //nolint:gosec // positions fit
}

func (b *rebuildBar) finish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.bar != nil {
		_ = b.bar.Finish()
		fmt.Fprintln(b.w)
	}
}

func printRebuildResult(w io.Writer, p projections.Progress) error {
	what := "swapped in: the query API now reads it"
	if p.Purpose == "as_of" {
		what = "a copy; the live build is untouched"
	}
	_, err := fmt.Fprintf(w, "%s rebuilt into %s up to position %d in %.1fs (%.0f events/s): %s\n",
		p.Projection, p.Build, p.Position, p.ElapsedSeconds, p.EventsPerSecond, what)
	if err == nil && p.StalledTenants > 0 {
		_, err = fmt.Fprintf(w, "  %d tenant(s) stalled in it: their rows stop before an event it could not decode or apply "+
			"(table projection_tenant_stalls; for the live build: dotmac projections status %s, then retry)\n", p.StalledTenants, p.Projection)
	}
	return err
}

func printStatusTable(w io.Writer, sts []projections.Status) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tVERSION\tPOSITION\tHEAD\tLAG\tLAG (s)\tSTALLED TENANTS\tERROR")
	for _, st := range sts {
		version := strconv.Itoa(st.Version)
		if st.CodeVersion != st.Version {
			version += "->" + strconv.Itoa(st.CodeVersion)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%.1f\t%d\t%s\n", st.Name, stateText(st), version, st.Position, st.Head,
			st.LagEvents, st.LagSeconds, st.StalledTenantCount, oneLine(st.Error, 60))
	}
	return tw.Flush()
}

func printStatusDetails(w io.Writer, sts []projections.Status) error {
	for i, st := range sts {
		if i > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "%s\n  state:       %s\n  version:     %d (this binary: %d)\n  live build:  %s\n", st.Name, stateText(st), st.Version, st.CodeVersion, st.LiveBuild)
		switch {
		case st.Running():
			fmt.Fprintf(w, "  projector:   %s\n", st.Holder)
		case st.RenewedAt != nil:
			fmt.Fprintf(w, "  projector:   none (last heartbeat %s)\n", st.RenewedAt.UTC().Format(time.RFC3339))
		}
		fmt.Fprintf(w, "  position:    %d of %d (%d events, %.1fs behind)\n", st.Position, st.Head, st.LagEvents, st.LagSeconds)
		for _, p := range st.Partitions {
			holder := p.Holder
			if holder == "" {
				holder = "none"
			}
			fmt.Fprintf(w, "  partition %d: position %d, projector %s\n", p.Partition, p.Position, holder)
		}
		if st.StalledPosition != nil {
			fmt.Fprintf(w, "  stalled at:  position %d\n  error:       %s\n", *st.StalledPosition, st.Error)
		}
		if st.StalledTenantCount > 0 {
			fmt.Fprintf(w, "  stalled tenants: %d (retry: dotmac projections retry --projection %s)\n", st.StalledTenantCount, st.Name)
		}
		for _, s := range st.StalledTenants {
			fmt.Fprintf(w, "    tenant %q at position %d since %s, %s, %d retries: %s\n", s.Tenant, s.Position,
				s.StalledAt.UTC().Format(time.RFC3339), s.ErrorID, s.Retries, oneLine(s.Error, 200))
		}
		for _, b := range st.Building {
			fmt.Fprintf(w, "  building:    %s (%s, version %d): %s, %d of %d, %.0f events/s, ETA %.0fs\n",
				b.Build, b.Purpose, b.Version, b.Phase, b.Position, b.Target, b.EventsPerSecond, b.ETASeconds)
		}
	}
	return nil
}

// stateText is the state an operator reads: a projection the registry says is running (or
// catching up) but that no projector process holds the lease of is "not running": its lag
// grows because nothing applies the feed, not because the projector is slow.
func stateText(st projections.Status) string {
	if (st.State == projections.StateRunning || st.State == projections.StateCatchingUp) && !st.Running() {
		return "not running"
	}
	return string(st.State)
}

func oneLine(s string, n int) string {
	for i, r := range s {
		if r == '\n' || i >= n {
			return s[:i] + "…"
		}
	}
	return s
}

// partitionsFlag binds --projection-partitions (DOTMAC_PROJECTION_PARTITIONS): the tenant-hash
// partitions of new live and rebuilt builds, shared by the projector processes.
func partitionsFlag(fs *pflag.FlagSet, p *int) {
	intFlag(fs, p, "projection-partitions", "DOTMAC_PROJECTION_PARTITIONS", 0,
		fmt.Sprintf("tenant-hash partitions (1-%d) a new or rebuilt projection build is split into, so that projector processes share its live work; 0: a rebuild keeps the live build's count, a first build has 1; a live build keeps its count until rebuilt", projections.MaxPartitions))
}
