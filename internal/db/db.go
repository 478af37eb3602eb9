// Package db opens the PostgreSQL connection pools every role uses, with the session settings
// the event store and the read models rely on.
package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune a pool. Zero values take the defaults.
type Options struct {
	// AppName shows in pg_stat_activity (default "dotmac").
	AppName string
	// MaxConns caps the pool (default 16).
	MaxConns int32
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
	rp := cfg.ConnConfig.RuntimeParams
	if rp["application_name"] == "" {
		rp["application_name"] = o.AppName
	}
	rp["idle_in_transaction_session_timeout"] = fmt.Sprint(o.IdleInTransactionTimeout.Milliseconds())
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
