// Package projectiontest runs the projection runtime inside tests: a runtime over a test's
// own schema (internal/pgtest), stopped when the test ends, its build schemas dropped (they
// live beside the test schema, so pgtest's cleanup does not reach them).
package projectiontest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
)

var dropRegistered sync.Map // application schema -> struct{}

// New returns a runtime (not started) for projs over pool and store, after migrating the
// runtime's tables into pool's schema. When tb ends it is stopped and, once per schema, the
// build schemas are dropped.
func New(tb testing.TB, pool *pgxpool.Pool, store eventstore.Store, projs []projections.Projection, opts projections.Options) *projections.Runtime {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := migrate.Up(ctx, pool, projections.MigrationSet()); err != nil {
		tb.Fatalf("projectiontest: migrate: %v", err)
	}
	rt, err := projections.New(ctx, pool, store, projs, opts)
	if err != nil {
		tb.Fatalf("projectiontest: %v", err)
	}
	if _, loaded := dropRegistered.LoadOrStore(rt.AppSchema(), struct{}{}); !loaded {
		tb.Cleanup(func() {
			DropBuildSchemas(tb, pool)
			dropRegistered.Delete(rt.AppSchema())
		})
	}
	tb.Cleanup(rt.Stop)
	return rt
}

// Start is New, then Start.
func Start(tb testing.TB, pool *pgxpool.Pool, store eventstore.Store, projs []projections.Projection, opts projections.Options) *projections.Runtime {
	tb.Helper()
	rt := New(tb, pool, store, projs, opts)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := rt.Start(ctx); err != nil {
		tb.Fatalf("projectiontest: start: %v", err)
	}
	return rt
}

// DropBuildSchemas drops every build schema of pool's application schema (<app>__*).
func DropBuildSchemas(tb testing.TB, pool *pgxpool.Pool) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	rows, err := pool.Query(ctx, `SELECT nspname FROM pg_namespace WHERE starts_with(nspname, current_schema() || '__')`)
	if err != nil {
		tb.Logf("projectiontest: list build schemas: %v", err)
		return
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Logf("projectiontest: list build schemas: %v", err)
		return
	}
	for _, n := range names {
		if _, err := pool.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{n}.Sanitize()+` CASCADE`); err != nil {
			tb.Logf("projectiontest: drop %s: %v", n, err)
		}
	}
}

// WaitCaughtUp waits until projection name has applied every event up to the head (read once,
// now), and returns the checkpoint.
func WaitCaughtUp(tb testing.TB, rt *projections.Runtime, name string, timeout time.Duration) eventstore.Position {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	head, err := rt.Head(ctx)
	if err != nil {
		tb.Fatalf("projectiontest: head: %v", err)
	}
	pos, err := rt.WaitFor(ctx, name, head)
	if err != nil {
		tb.Fatalf("projectiontest: %s did not reach the head %d: %v", name, head, err)
	}
	return pos
}
