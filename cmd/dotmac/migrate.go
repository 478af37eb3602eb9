package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/internal/migrate"
)

func newMigrate(g *globalFlags) *cobra.Command {
	d := &dbFlags{}
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Apply or inspect the database migrations embedded in this binary",
	}
	d.bind(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Apply every pending migration (serve does this at start-up too)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			dbase, err := openDatabase(cmd.Context(), log, g, d, true)
			if err != nil {
				return err
			}
			defer dbase.close(log)
			log.Info().Str("source", string(dbase.source)).Msg("migrations applied")
			return nil
		},
	}, &cobra.Command{
		Use:   "status",
		Short: "List every migration and whether it is applied",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log, err := g.logger()
			if err != nil {
				return err
			}
			dbase, err := openDatabase(cmd.Context(), log, g, d, false)
			if err != nil {
				return err
			}
			defer dbase.close(log)
			st, err := migrate.StatusOf(cmd.Context(), dbase.pool, migrationSets()...)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "COMPONENT\tVERSION\tMIGRATION\tSTATE")
			for _, s := range st {
				state := "pending"
				if s.Applied {
					state = "applied"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\n", s.Set, s.Version, s.Name, state)
			}
			return tw.Flush()
		},
	})
	return cmd
}
