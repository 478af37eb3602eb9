package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgprovision"
)

// dbFlags locate the PostgreSQL database.
type dbFlags struct {
	url      string
	maxConns int32
}

func (d *dbFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &d.url, "database-url", "DATABASE_URL", "",
		"PostgreSQL URL; empty: the local server on 127.0.0.1:5432, else a private cluster under --data-dir/postgres")
	fs.Int32Var(&d.maxConns, "db-max-conns", 32, "largest number of PostgreSQL connections per pool")
}

// database is an open, migrated PostgreSQL database.
type database struct {
	pool   *pgxpool.Pool
	source pgprovision.Source
	stop   func(context.Context) error
}

// openDatabase finds or starts PostgreSQL, creates the database if missing, connects and
// (when migrateUp) applies every component's migrations.
func openDatabase(ctx context.Context, log zerolog.Logger, g *globalFlags, d *dbFlags, migrateUp bool) (*database, error) {
	res, err := pgprovision.Provision(ctx, pgprovision.Options{
		DatabaseURL: d.url, DataDir: filepath.Join(g.dataDir, "postgres"), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	pool, err := db.Open(ctx, res.URL, db.Options{MaxConns: d.maxConns})
	if err != nil {
		_ = res.Stop(context.Background())
		return nil, err
	}
	out := &database{pool: pool, source: res.Source, stop: res.Stop}
	if migrateUp {
		if err := migrate.Up(ctx, pool, migrationSets()...); err != nil {
			out.close(log)
			return nil, fmt.Errorf("apply migrations: %w", err)
		}
	}
	return out, nil
}

func (d *database) close(log zerolog.Logger) {
	d.pool.Close()
	if err := d.stop(context.Background()); err != nil {
		log.Warn().Err(err).Msg("stopping the private PostgreSQL cluster")
	}
}

// migrationSets lists every component's schema, in dependency order.
func migrationSets() []migrate.Set {
	return []migrate.Set{postgres.MigrationSet()}
}
