package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/kurrentdb"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/integration/webhooks"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgprovision"
	"github.com/dotmac/ledger/projections"
)

// dbFlags locate the PostgreSQL database and name its roles.
type dbFlags struct {
	url      string
	maxConns int32
	minConns int32 // serve's --db-min-conns; 0 for one-shot commands
	// warm, if set, runs on each connection the main pool opens (serve: readapi.WarmUp when
	// the query API reads through that pool).
	warm  func(context.Context, *pgx.Conn) error
	roles roleFlags
}

func (d *dbFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &d.url, "database-url", "DATABASE_URL", "",
		"PostgreSQL URL; empty: the local server on 127.0.0.1:5432, else a private cluster under --data-dir/postgres")
	int32Flag(fs, &d.maxConns, "db-max-conns", "DOTMAC_DB_MAX_CONNS", 32, "largest number of PostgreSQL connections per pool")
}

// storeFlags locate the database and choose the event store backend.
type storeFlags struct {
	db         dbFlags
	backend    string
	kurrentURL string
}

func (s *storeFlags) bind(fs *pflag.FlagSet) {
	s.db.bind(fs)
	s.db.roles.bind(fs)
	stringFlag(fs, &s.backend, "eventstore", "DOTMAC_EVENTSTORE", "postgres", "event store backend: postgres or kurrentdb")
	oneOf(fs, "eventstore", "postgres", "kurrentdb")
	stringFlag(fs, &s.kurrentURL, "kurrentdb-url", "KURRENTDB_URL", "", "KurrentDB connection string, with --eventstore kurrentdb (e.g. esdb://127.0.0.1:2113?tls=false)")
}

// backend is the open database and event store every command but migrate works on.
type backend struct {
	*database
	store      eventstore.Store
	closeStore func()
	log        zerolog.Logger
	// metrics are the event store's series (nil for a backend without any), for serve to
	// register.
	metrics prometheus.Collector
}

// openBackend opens the database (migrating it when migrateUp) and the event store.
func openBackend(ctx context.Context, log zerolog.Logger, g *globalFlags, s *storeFlags, migrateUp bool) (*backend, error) {
	return openBackendWith(ctx, log, g, s, migrateUp, 0)
}

// openBackendWith is openBackend with, when commandConns > 0 and the event store is
// PostgreSQL, a second pool of at most commandConns connections for the command side: the
// event store and the command side's tables (database.commandPool).
func openBackendWith(ctx context.Context, log zerolog.Logger, g *globalFlags, s *storeFlags, migrateUp bool, commandConns int32) (*backend, error) {
	dbase, err := openDatabase(ctx, log, g, &s.db, migrateUp)
	if err != nil {
		return nil, err
	}
	if commandConns > 0 && s.backend == "postgres" {
		dbase.commands, err = db.Open(ctx, dbase.pool.Config().ConnString(), db.Options{AppName: "dotmac-commands", MaxConns: commandConns,
			MinConns: s.db.minConns})
		if err != nil {
			dbase.close(log)
			return nil, fmt.Errorf("open the command side's pool: %w", err)
		}
	}
	store, closeStore, metrics, err := openEventStore(ctx, log, s, dbase)
	if err != nil {
		dbase.close(log)
		return nil, err
	}
	return &backend{database: dbase, store: store, closeStore: closeStore, metrics: metrics}, nil
}

func (b *backend) close(log zerolog.Logger) {
	b.closeStore()
	b.database.close(log)
}

// openEventStore opens the configured backend over the database, with its metrics (nil when
// it has none).
func openEventStore(ctx context.Context, log zerolog.Logger, s *storeFlags, dbase *database) (eventstore.Store, func(), prometheus.Collector, error) {
	switch s.backend {
	case "postgres":
		m := newStoreMetrics()
		st, err := postgres.Open(ctx, dbase.commandPool(), postgres.Config{Logger: log, OnBatch: m.observe})
		if err != nil {
			return nil, nil, nil, err
		}
		return st, st.Close, m, nil
	case "kurrentdb":
		if s.kurrentURL == "" {
			return nil, nil, nil, errors.New("--eventstore kurrentdb needs KURRENTDB_URL (e.g. esdb://127.0.0.1:2113?tls=false)")
		}
		st, err := kurrentdb.Open(ctx, s.kurrentURL, kurrentdb.Config{Logger: log})
		if err != nil {
			return nil, nil, nil, err
		}
		return st, st.Close, nil, nil
	default:
		return nil, nil, nil, fmt.Errorf("event store %q: use postgres or kurrentdb", s.backend)
	}
}

// database is an open, migrated PostgreSQL database.
type database struct {
	pool *pgxpool.Pool
	// commands, when set, is the command side's own pool (--db-command-conns), so that the
	// query API's and the projectors' load on pool never holds a command waiting for a
	// connection, nor a billing run the portal's reads.
	commands *pgxpool.Pool
	source   pgprovision.Source
	stop     func(context.Context) error
}

// commandPool is the pool of the event store and the command side's tables: their own when
// opened with one, else the shared pool.
func (d *database) commandPool() *pgxpool.Pool {
	if d.commands != nil {
		return d.commands
	}
	return d.pool
}

// openDatabase finds or starts PostgreSQL, creates the database if missing, connects and
// (when migrateUp) applies every component's migrations. With migrateUp on a local server
// (no DATABASE_URL), or with --migrate-database-url, it first sets the roles up and migrates
// as the owner role (dbroles.go); on a local server it then connects as the runtime role.
func openDatabase(ctx context.Context, log zerolog.Logger, g *globalFlags, d *dbFlags, migrateUp bool) (*database, error) {
	preset := migrateUp && d.roles.enabled && d.roles.migrateURL != ""
	if preset {
		// Before connecting as the server's role, which may not exist yet.
		if err := setUpWith(ctx, log, d.roles.migrateURL, d.roles); err != nil {
			return nil, err
		}
	}
	res, err := pgprovision.Provision(ctx, pgprovision.Options{
		DatabaseURL: d.url, DataDir: filepath.Join(g.dataDir.path, "postgres"), Logger: log,
	})
	if err != nil {
		return nil, err
	}
	connURL := res.URL
	if migrateUp {
		if connURL, err = d.runtimeURL(ctx, log, res, preset); err != nil {
			_ = res.Stop(context.Background())
			return nil, err
		}
	}
	pool, err := db.Open(ctx, connURL, db.Options{MaxConns: d.maxConns, MinConns: d.minConns, AfterConnect: d.warm})
	if err != nil {
		_ = res.Stop(context.Background())
		return nil, err
	}
	out := &database{pool: pool, source: res.Source, stop: res.Stop}
	if migrateUp {
		// As the runtime role: nothing to do when the schema is current, else a clear error.
		if err := migrate.EnsureCurrent(ctx, pool, migrationSets()...); err != nil {
			out.close(log)
			return nil, fmt.Errorf("apply migrations: %w", err)
		}
	}
	return out, nil
}

func (d *database) close(log zerolog.Logger) {
	if d.commands != nil {
		d.commands.Close()
	}
	d.pool.Close()
	if err := d.stop(context.Background()); err != nil {
		log.Warn().Err(err).Msg("stopping the private PostgreSQL cluster")
	}
}

// migrationSets lists every component's schema, in dependency order.
func migrationSets() []migrate.Set {
	return []migrate.Set{postgres.MigrationSet(), consumer.MigrationSet(), pgstore.MigrationSet(), process.MigrationSet(), projections.MigrationSet(),
		audit.MigrationSet(), webhooks.MigrationSet()}
}
