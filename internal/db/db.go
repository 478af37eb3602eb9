// Package db opens the PostgreSQL connection pools every role uses, with the session settings
// the event store and the read models rely on.
package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune a pool. Zero values take the defaults.
type Options struct {
	// AppName shows in pg_stat_activity (default "dotmac").
	AppName string
	// MaxConns caps the pool (default 16).
	MaxConns int32
	// MinConns opens that many connections when the pool opens and keeps them (default 0:
	// connections open as requests find none idle). A request that finds no idle connection
	// below MaxConns waits for a new session to start, never for one to be released: on a
	// host busy with a billing run that took 0.8 s a session, in the middle of the portal's
	// reads. A server keeps its pools at their working size from the start.
	MinConns int32
	// AfterConnect, if set, runs on every connection the pool opens before its first use
	// (pgxpool.Config.AfterConnect); an error discards the connection.
	AfterConnect func(context.Context, *pgx.Conn) error
	// IdleInTransactionTimeout ends a session that sits in an open transaction this long, so a
	// stuck client cannot hold the event store's append lock (default 30 s).
	IdleInTransactionTimeout time.Duration
}

func (o *Options) setDefaults() {
	if o.AppName == "" {
		o.AppName = "dotmac"
	}
	if o.MaxConns <= 0 {
		o.MaxConns = 16
	}
	if o.IdleInTransactionTimeout <= 0 {
		o.IdleInTransactionTimeout = 30 * time.Second
	}
}

// Open parses url, applies o, connects and pings. A url may carry a search_path parameter
// (postgres://.../db?search_path=s) to confine every table to one schema.
func Open(ctx context.Context, url string, o Options) (*pgxpool.Pool, error) {
	o.setDefaults()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	cfg.MaxConns = o.MaxConns
	cfg.MinConns = min(max(o.MinConns, 0), o.MaxConns)
	cfg.AfterConnect = o.AfterConnect
	rp := cfg.ConnConfig.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = o.AppName
	}
	rp["idle_in_transaction_session_timeout"] = fmt.Sprint(o.IdleInTransactionTimeout.Milliseconds())
	// JIT compilation costs seconds on the report queries (MRR over a year of services is
	// costed past jit_above_cost once autovacuum has analyzed its table) and saves
	// milliseconds at best: off, unless the url turns it on (?jit=on).
	if rp["jit"] == "" {
		rp["jit"] = "off"
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to database %s: %w", redact(cfg), err)
	}
	return pool, nil
}

func redact(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	return fmt.Sprintf("%s@%s:%d/%s", c.User, c.Host, c.Port, c.Database)
}

// ErrReadOnly: the database accepts no writes (a standby, or default_transaction_read_only).
var ErrReadOnly = errors.New("database is read-only")

// Row is what Writable needs of a pool or a connection.
type Row interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Writable returns nil when a session of q can write, an error matching ErrReadOnly that says
// why when it cannot (pg_is_in_recovery: a standby; transaction_read_only: writes are switched
// off), or the error of asking.
func Writable(ctx context.Context, q Row) error {
	var recovery bool
	var readOnly string
	err := q.QueryRow(ctx, "SELECT pg_is_in_recovery(), current_setting('transaction_read_only')").Scan(&recovery, &readOnly)
	switch {
	case err != nil:
		return fmt.Errorf("ask whether the database is writable: %w", err)
	case recovery:
		return fmt.Errorf("%w: it is a standby in recovery (pg_is_in_recovery)", ErrReadOnly)
	case readOnly == "on":
		return fmt.Errorf("%w: transaction_read_only is on (default_transaction_read_only)", ErrReadOnly)
	}
	return nil
}

// GenericPlanSettings are the transaction-local settings of GenericPlansSQL, for a caller
// that sets others in the same statement.
//
// A generic plan is made once per connection and kept until the table's statistics change,
// so it must not depend on them: made while a table is young (a new install) or never
// analyzed (autovacuum off, or the table growing between its analyzes), PostgreSQL's choice
// for a lookup by key was a hash join over a sequential scan, kept as the table grew: every
// append then read the whole history (the append scenario fell to a third). With sequential
// scans disabled, the plan made on an empty table is the index probe a custom plan picks on a
// grown one.
const GenericPlanSettings = `set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true)`

// GenericPlansSQL makes the statements after it in the same transaction, or in the implicit
// transaction of one round trip, run their connection's generic plans
// (plan_cache_mode = force_generic_plan, set locally), reading through indexes whatever the
// tables' statistics say (GenericPlanSettings). For statements by key over arrays or ranges,
// whose generic plan is the index scan a custom plan would pick: left to choose, PostgreSQL
// plans those again on every call, since their generic plan always looks dearer.
const GenericPlansSQL = `SELECT ` + GenericPlanSettings

// SettingWarning is a setting of the PostgreSQL server at odds with what the ledger
// promises, and what it puts at risk.
type SettingWarning struct {
	Setting, Value, Risk string
}

// riskySettings are the server settings CheckSettings reads, the value that warns, and what
// it puts at risk.
var riskySettings = []struct{ name, bad, risk string }{
	{"fsync", "off", "a crash of the machine can lose acknowledged appends or corrupt the database: the event store's durability needs fsync on"},
	{"synchronous_commit", "off", "the event store turns it on for its own appends, so the events stay durable, but the ledger's other records written with the session's setting (webhook endpoints and deliveries, signed audit checkpoints) are acknowledged before their WAL reaches the disk: a crash of PostgreSQL can lose their last moments"},
	{"full_page_writes", "off", "a crash in the middle of a page write can leave a torn page that recovery cannot repair"},
	{"autovacuum", "off", "nothing vacuums the tables the ledger updates in place (idempotency keys, feed checkpoints, the process managers' open invoices, read-model states): they grow until vacuumed by hand; and nothing analyzes any table, so PostgreSQL plans on the statistics of an empty one and a plan a connection keeps can scan a table that has since grown (the event store's own lookups are written to be immune: run ANALYZE after a large import)"},
}

// CheckSettings reads, in q's session, the server settings the ledger's guarantees depend on
// and returns a warning for each one at odds with them, in riskySettings' order.
func CheckSettings(ctx context.Context, q Row) ([]SettingWarning, error) {
	names := make([]string, len(riskySettings))
	for i, s := range riskySettings {
		names[i] = s.name
	}
	var values []string
	if err := q.QueryRow(ctx, `SELECT array(SELECT current_setting(n) FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i) ORDER BY i)`, names).Scan(&values); err != nil {
		return nil, fmt.Errorf("read PostgreSQL's settings: %w", err)
	}
	if len(values) != len(names) {
		return nil, fmt.Errorf("read PostgreSQL's settings: %d values for %d settings", len(values), len(names))
	}
	var out []SettingWarning
	for i, s := range riskySettings {
		if values[i] == s.bad {
			out = append(out, SettingWarning{Setting: s.name, Value: values[i], Risk: s.risk})
		}
	}
	return out, nil
}
