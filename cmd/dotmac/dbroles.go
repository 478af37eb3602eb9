package main

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgprovision"
)

// The database roles' defaults and the environment variables of their passwords (no flags:
// a flag's value shows in the process list and its default in --help).
const (
	defaultOwnerRole   = "dotmac_owner"
	defaultRuntimeRole = "dotmac_app"
	envOwnerPassword   = "DOTMAC_DB_OWNER_PASSWORD"
	envRuntimePassword = "DOTMAC_DB_APP_PASSWORD"
)

// roleFlags name the owner and runtime roles (docs/database-roles.md) and the connection that
// sets them up and migrates.
type roleFlags struct {
	migrateURL string
	enabled    bool
	owner      string
	runtime    string
}

func (r *roleFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &r.migrateURL, "migrate-database-url", "DOTMAC_MIGRATE_DATABASE_URL", "",
		"PostgreSQL URL the role set-up and the migrations connect with: a superuser, or a role that may create roles "+
			"and act as the owner role (default: --database-url for dotmac migrate; the local server's superuser without DATABASE_URL)")
	boolFlag(fs, &r.enabled, "db-roles", "DOTMAC_DB_ROLES", true,
		"least privilege: migrate as the owner role, serve as the runtime role (false: the connecting role migrates and serves)")
	stringFlag(fs, &r.owner, "db-owner-role", "DOTMAC_DB_OWNER_ROLE", defaultOwnerRole,
		"database role that owns the schema and runs the migrations (password: env "+envOwnerPassword+")")
	stringFlag(fs, &r.runtime, "db-app-role", "DOTMAC_DB_APP_ROLE", defaultRuntimeRole,
		"database role the server runs as: INSERT and SELECT on the event log, no DDL (password: env "+envRuntimePassword+")")
}

func (r *roleFlags) roles() migrate.Roles {
	return migrate.Roles{Owner: r.owner, Runtime: r.runtime,
		OwnerPassword: os.Getenv(envOwnerPassword), RuntimePassword: os.Getenv(envRuntimePassword)}
}

// runtimeURL returns the URL a command that migrates (serve, demo, import, projections)
// connects with. On a local server (no DATABASE_URL) the local superuser sets the roles up
// and migrates as the owner, unless --migrate-database-url did already (preset), and the
// command connects as the runtime role; a local role that may not create roles is warned
// about and used as before. With DATABASE_URL the command connects with it: as the runtime
// role after --migrate-database-url set the roles up; alone, nothing is set up, and
// EnsureCurrent migrates if that role may, or says to run dotmac migrate.
func (d *dbFlags) runtimeURL(ctx context.Context, log zerolog.Logger, res *pgprovision.Result, preset bool) (string, error) {
	if !d.roles.enabled || res.Source == pgprovision.SourceDatabaseURL {
		return res.URL, nil
	}
	if !preset {
		err := setUpWith(ctx, log, res.URL, d.roles)
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "42501" {
			log.Warn().Err(err).Msg("cannot set up the least-privilege database roles with the local server's role: " +
				"it migrates and serves itself (see docs/database-roles.md)")
			return res.URL, nil
		}
		if err != nil {
			return "", err
		}
	}
	return withUser(res.URL, d.roles.runtime, os.Getenv(envRuntimePassword))
}

// setUpWith creates the database of adminURL if missing, then runs migrate.Setup for every
// component's schema, connected with adminURL.
func setUpWith(ctx context.Context, log zerolog.Logger, adminURL string, r roleFlags) error {
	if err := pgprovision.EnsureDatabase(ctx, adminURL); err != nil {
		return fmt.Errorf("migrating connection: %w", err)
	}
	pool, err := db.Open(ctx, adminURL, db.Options{AppName: "dotmac-migrate", MaxConns: 2})
	if err != nil {
		return err
	}
	defer pool.Close()
	if err := migrate.Setup(ctx, pool, r.roles(), migrationSets()...); err != nil {
		return fmt.Errorf("set up the database roles: %w", err)
	}
	log.Info().Str("owner_role", r.owner).Str("runtime_role", r.runtime).
		Msg("database roles set up: migrated as the owner role, connecting as the runtime role")
	return nil
}

// withUser returns the URL u with user (and password, when not empty) in place of its own.
func withUser(u, user, password string) (string, error) {
	parsed, err := url.Parse(u)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	parsed.User = url.User(user)
	if password != "" {
		parsed.User = url.UserPassword(user, password)
	}
	return parsed.String(), nil
}
