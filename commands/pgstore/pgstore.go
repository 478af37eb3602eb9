// Package pgstore holds the command side's PostgreSQL tables: idempotency keys (Keys), invoice
// number counters (Numbers) and the billing index (Index), with their migrations
// (MigrationSet).
//
// # Asynchronous commit
//
// With Options.AsyncCommit the idempotency claims and the invoice number allocations commit with
// synchronous_commit off: they do not wait for their WAL to reach disk, which would cost a
// flush per command. That is safe only when the event store writes to the same PostgreSQL
// cluster: the append that makes a command's effect durable commits later with a synchronous
// commit, which flushes the WAL up to its own commit record and so every earlier commit with
// it. A claim or a number can then be lost in a crash only together with everything appended
// after it, and nothing durable ever refers to a lost one. With another event store (KurrentDB)
// leave it off.
package pgstore

import (
	"context"
	"embed"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgerr"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the command side's schema, for internal/migrate. It requires the feed
// consumers' (the billing index's checkpoint is in feed_checkpoints).
func MigrationSet() migrate.Set {
	s := migrate.Embedded("commands", "cmd_schema_migrations", migrationFiles)
	s.Requires = []migrate.Set{consumer.MigrationSet()}
	return s
}

// Options tune the stores.
type Options struct {
	// AsyncCommit commits claims and number allocations without waiting for the WAL flush
	// (see the package documentation for when that is safe).
	AsyncCommit bool
}

// settings are the transaction-local settings a statement runs with (see exec).
type settings struct {
	// async: synchronous_commit off (Options.AsyncCommit).
	async bool
	// generic: plan_cache_mode force_generic_plan, for the grouped statements over unnest of
	// arrays. Their plan (a nested loop over the primary key) is the best for any number of
	// items, but PostgreSQL estimates a parameter array at 10 elements, so for the few items a
	// statement usually carries it costs a custom plan below the generic one and plans the
	// statement again on every execution: about 0.18 ms of its CPU each time, more than
	// executing it (measured with pgbench -M prepared on a 5-item completion). Sequential
	// scans are off too, so that the plan made while the table is young stays a probe of the
	// key as it grows (db.GenericPlanSettings).
	generic bool
}

// statement is the SELECT applying s, or "" when s changes nothing.
func (s settings) statement() string {
	var set []string
	if s.async {
		set = append(set, "set_config('synchronous_commit', 'off', true)")
	}
	if s.generic {
		set = append(set, db.GenericPlanSettings)
	}
	if len(set) == 0 {
		return ""
	}
	return "SELECT " + strings.Join(set, ", ")
}

// exec runs one statement with set: the settings and the statement go in one batch, which
// PostgreSQL runs as one implicit transaction, so the settings end with it.
func exec(ctx context.Context, pool *pgxpool.Pool, set settings, sql string, args ...any) (pgconn.CommandTag, error) {
	pre := set.statement()
	if pre == "" {
		return pool.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(pre)
	b.Queue(sql, args...)
	br := pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

// queryRow runs one statement returning a row, like exec.
func queryRow(ctx context.Context, pool *pgxpool.Pool, set settings, dest []any, sql string, args ...any) error {
	pre := set.statement()
	if pre == "" {
		return pool.QueryRow(ctx, sql, args...).Scan(dest...)
	}
	b := &pgx.Batch{}
	b.Queue(pre)
	b.Queue(sql, args...)
	br := pool.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		_ = br.Close()
		return err
	}
	err := br.QueryRow().Scan(dest...)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return err
}

// classify makes whatever a retry may get past (an outage or contention, as package pgerr sorts
// them) an *eventstore.UnavailableError (the API answers 503 with Retry-After), and wraps the
// rest with op.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if pgerr.Of(err).Retryable() {
		return &eventstore.UnavailableError{Op: op, Err: err}
	}
	return fmt.Errorf("%s: %w", op, err)
}
