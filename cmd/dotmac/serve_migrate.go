package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/internal/migrate"
)

// openServeBackend opens serve's database and event store. With --migrate (the default, for
// `make run`) it applies the migrations first; without (deploy/: `dotmac migrate up` runs
// once, as a job, before the new processes start) it refuses a database missing a migration
// of this binary, rather than failing later on a missing table.
func openServeBackend(ctx context.Context, log zerolog.Logger, g *globalFlags, f *serveFlags) (*backend, error) {
	b, err := openBackendWith(ctx, log, g, &f.storage, f.migrate, f.commandConns)
	if err != nil || f.migrate {
		return b, err
	}
	if err := requireMigrated(ctx, b.pool); err != nil {
		b.close(log)
		return nil, err
	}
	return b, nil
}

// requireMigrated fails unless every migration of this binary is applied to the database.
func requireMigrated(ctx context.Context, pool *pgxpool.Pool) error {
	st, err := migrate.StatusOf(ctx, pool, migrationSets()...)
	if err != nil {
		return fmt.Errorf("--migrate=false: reading the schema's migrations: %w (run `dotmac migrate up` first)", err)
	}
	var pending []string
	for _, s := range st {
		if !s.Applied {
			pending = append(pending, fmt.Sprintf("%s %d", s.Set, s.Version))
		}
	}
	if len(pending) > 0 {
		return fmt.Errorf("--migrate=false: the database lacks %d migration(s) of this binary (%s): run `dotmac migrate up` first",
			len(pending), strings.Join(pending, ", "))
	}
	return nil
}
