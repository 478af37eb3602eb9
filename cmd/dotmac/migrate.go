package main

import (
	"context"
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
	d.roles.bind(cmd.PersistentFlags())
	cmd.AddCommand(&cobra.Command{
		Use:   "up",
		Short: "Create the owner and runtime roles if missing, apply every pending migration as the owner, grant the runtime role",
		Long: `Up connects with --migrate-database-url (else --database-url, else the local server's superuser),
creates the database, the owner role (--db-owner-role) and the runtime role (--db-app-role) if
missing, gives the schema and every table to the owner (moving them from an install in which
one role owned everything), applies every pending migration as the owner, and grants the
runtime role what the server needs: INSERT and SELECT on the event log, no DDL. It is
idempotent. With --db-roles=false it only applies the migrations, as the connecting role.
See docs/database-roles.md.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runMigrateUp(cmd.Context(), g, d) },
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

// runMigrateUp sets the roles up and migrates, connected as the migrating role.
func runMigrateUp(ctx context.Context, g *globalFlags, d *dbFlags) error {
	log, err := g.logger()
	if err != nil {
		return err
	}
	admin := *d
	if d.roles.migrateURL != "" {
		admin.url = d.roles.migrateURL
	}
	dbase, err := openDatabase(ctx, log, g, &admin, false)
	if err != nil {
		return err
	}
	defer dbase.close(log)
	if !d.roles.enabled {
		if err := migrate.Up(ctx, dbase.pool, migrationSets()...); err != nil {
			return fmt.Errorf("apply migrations: %w", err)
		}
		log.Info().Str("source", string(dbase.source)).Msg("migrations applied")
		return nil
	}
	r := d.roles.roles()
	if err := migrate.Setup(ctx, dbase.pool, r, migrationSets()...); err != nil {
		return fmt.Errorf("set up the database roles: %w", err)
	}
	log.Info().Str("source", string(dbase.source)).Str("owner_role", r.Owner).Str("runtime_role", r.Runtime).
		Msg("migrations applied as the owner role; the runtime role granted")
	return nil
}
