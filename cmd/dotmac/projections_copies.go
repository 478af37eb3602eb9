package main

import (
	"fmt"
	"io"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/projections"
)

func newProjectionsCopies(g *globalFlags, f *projectionsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "copies",
		Short: "List the as-of copies (rebuild --into): name, projection, as-of, who made them, when, status, rows, size",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				cs, err := rt.Copies(cmd.Context())
				if err != nil {
					return err
				}
				if f.json {
					if cs == nil {
						cs = []projections.Copy{}
					}
					return printJSON(cmd.OutOrStdout(), cs)
				}
				return printCopies(cmd.OutOrStdout(), cs, f.maxCopies)
			})
		},
	}
}

func newProjectionsDropCopy(g *globalFlags, f *projectionsFlags) *cobra.Command {
	return &cobra.Command{
		Use:   "drop-copy NAME...",
		Short: "Drop as-of copies: their schemas and catalog rows (only schemas the copy catalog knows)",
		Example: `  dotmac projections copies
  dotmac projections drop-copy journal_q1`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withRuntime(cmd, g, f, func(rt *projections.Runtime) error {
				for _, name := range args {
					if err := rt.DropCopy(cmd.Context(), name); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "dropped as-of copy %s\n", name)
				}
				return nil
			})
		},
	}
}

func printCopies(w io.Writer, cs []projections.Copy, limit int) error {
	if limit <= 0 {
		limit = projections.DefaultMaxCopies
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPROJECTION\tAS OF\tPOSITION\tBY\tCREATED\tSTATUS\tROWS\tSIZE")
	for _, c := range cs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%d\t%s\n", c.Name, c.Projection, c.AsOf, c.Target, c.CreatedBy,
			c.CreatedAt.UTC().Format(time.RFC3339), c.Status, c.Rows, humanBytes(c.Bytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "%d of at most %d copies (--max-copies)\n", len(cs), limit)
	return err
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// cliUser is who makes a copy from the CLI, for the copy catalog: cli:<login>.
func cliUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return "cli:" + u.Username
	}
	if name := os.Getenv("USER"); name != "" {
		return "cli:" + name
	}
	return "cli"
}
