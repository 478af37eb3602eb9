// Package pgprovision finds or starts the PostgreSQL server dotmac runs on, in this order:
// the server named by DATABASE_URL; else a local server on 127.0.0.1:5432; else a private
// cluster that dotmac initializes and starts itself under ./var/postgres from the machine's
// PostgreSQL binaries (as a non-root user, because PostgreSQL refuses to run as root).
//
// It is the "one box" half of DESIGN.md ("One box, then many"): production sets DATABASE_URL,
// and then nothing else is tried.
//
// The private cluster lives under DataDir: DataDir/data is PGDATA (initdb'd once: superuser
// postgres, trust authentication, UTF8, C locale, data checksums, default fsync), the server
// listens on 127.0.0.1 only, on a free port chosen at each start, with no Unix socket, and
// logs to DataDir/server.log. A lock file (DataDir/.lock) serializes dotmac processes, and a
// running cluster (found through PGDATA/postmaster.pid) is reused, not started twice.
//
// PostgreSQL refuses to run as root. When dotmac runs as root, initdb and pg_ctl are run with
// the uid and gid of the system user RunAsUser (default "postgres"; no supplementary groups),
// PGDATA and the server log are chowned to it, the directories dotmac creates above PGDATA are
// mode 0711 so it can pass through them, and Provision fails early, naming the directory, if
// it cannot reach DataDir. As any other user, the programs simply run as that user.
package pgprovision

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rs/zerolog"
)

// Source says where the server in a Result came from. It is logged and shown to operators.
type Source string

// The sources, in the order Provision tries them.
const (
	SourceDatabaseURL Source = "DATABASE_URL"
	SourceLocal       Source = "local server"
	SourcePrivate     Source = "private cluster"
)

// Defaults applied by Provision to zero Options fields.
const (
	DefaultDatabase  = "dotmac"
	DefaultDataDir   = "./var/postgres"
	DefaultLocalAddr = "127.0.0.1:5432"
	DefaultRunAsUser = "postgres"

	defaultProbeTimeout = time.Second
	defaultStartTimeout = time.Minute
	urlConnectTimeout   = 5 * time.Second
	maxDatabaseNameLen  = 63 // bytes; PostgreSQL's NAMEDATALEN - 1
)

// Options configures Provision. The zero value is the documented default behaviour.
type Options struct {
	// DatabaseURL is DATABASE_URL (or --database-url). When set it is the only server tried;
	// its database is created if missing. "" means discover.
	DatabaseURL string
	// Database is the database used (and created if missing) on a discovered server.
	// Ignored when DatabaseURL is set. Default "dotmac".
	Database string
	// DataDir holds the private cluster: DataDir/data (PGDATA), DataDir/server.log and a
	// lock file. Default "./var/postgres".
	DataDir string
	// Logger receives one Info line naming the chosen source, and the cluster's lifecycle.
	// The zero Logger discards everything.
	Logger zerolog.Logger

	// LocalAddrs are the host:port addresses probed for a local server, in order.
	// Default ["127.0.0.1:5432"].
	LocalAddrs []string
	// BinDirs are searched, in order, for initdb, pg_ctl and postgres. nil means the default
	// search: `pg_config --bindir`, the newest /usr/lib/postgresql/*/bin, /usr/local/pgsql/bin,
	// then $PATH. A non-nil empty slice finds nothing.
	BinDirs []string
	// RunAsUser is the system user the private cluster runs as when dotmac runs as root.
	// Default "postgres". Unused when dotmac is not root.
	RunAsUser string
	// ProbeTimeout bounds each connection attempt to a local address. Default 1s.
	ProbeTimeout time.Duration
	// StartTimeout bounds starting, stopping, and waiting for a starting cluster. Default 1m.
	StartTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.Database == "" {
		o.Database = DefaultDatabase
	}
	if o.DataDir == "" {
		o.DataDir = DefaultDataDir
	}
	if len(o.LocalAddrs) == 0 {
		o.LocalAddrs = []string{DefaultLocalAddr}
	}
	if o.RunAsUser == "" {
		o.RunAsUser = DefaultRunAsUser
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = defaultProbeTimeout
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = defaultStartTimeout
	}
}

func (o *Options) validate() error {
	if len(o.Database) > maxDatabaseNameLen {
		return fmt.Errorf("pgprovision: database name %q is longer than %d bytes", o.Database, maxDatabaseNameLen)
	}
	if strings.ContainsRune(o.Database, 0) {
		return fmt.Errorf("pgprovision: database name %q contains a NUL byte", o.Database)
	}
	return nil
}

// Result is a usable server: its database exists and accepts connections.
type Result struct {
	// URL is a connection string for the database. For SourceDatabaseURL it is DATABASE_URL
	// unchanged (it may hold a password: do not log it).
	URL string
	// Source says where the server came from.
	Source Source
	// Stop stops the private cluster if this Provision call started it, and is a no-op
	// otherwise (a server we did not start, or a private cluster that was already running).
	// It is never nil, and calling it again after it succeeded is a no-op.
	Stop func(ctx context.Context) error
}

func noStop(context.Context) error { return nil }

// Provision returns a usable PostgreSQL database, trying DATABASE_URL, then the local
// addresses, then a private cluster under DataDir (see the package doc).
//
// Errors: *DatabaseURLError when DatabaseURL is set and cannot be used (no fallback is tried);
// *NotFoundError when no local server answers and no PostgreSQL binaries are installed;
// *ClusterError when the private cluster cannot be initialized, started or used.
func Provision(ctx context.Context, o Options) (*Result, error) {
	o.setDefaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	res, shown, err := provision(ctx, &o)
	if err != nil {
		return nil, err
	}
	o.Logger.Info().Str("source", string(res.Source)).Str("url", shown).Msg("using PostgreSQL")
	return res, nil
}

// provision returns the result and a password-free description of its URL for the log.
func provision(ctx context.Context, o *Options) (*Result, string, error) {
	if o.DatabaseURL != "" {
		return fromDatabaseURL(ctx, o.DatabaseURL)
	}
	if res, ok := fromLocal(ctx, o); ok {
		return res, res.URL, nil
	}
	res, err := fromPrivateCluster(ctx, o)
	if err != nil {
		return nil, "", err
	}
	return res, res.URL, nil
}

func fromDatabaseURL(ctx context.Context, dsn string) (*Result, string, error) {
	cfg, err := parseConfig(dsn)
	if err != nil {
		return nil, "", &DatabaseURLError{Err: err}
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = urlConnectTimeout
	}
	shown := describe(cfg)
	if err := ensureDatabase(ctx, cfg); err != nil {
		return nil, "", &DatabaseURLError{URL: shown, Err: err}
	}
	return &Result{URL: dsn, Source: SourceDatabaseURL, Stop: noStop}, shown, nil
}
