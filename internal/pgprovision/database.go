package pgprovision

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes this package reacts to.
const (
	codeInvalidCatalogName = "3D000" // the database does not exist
	codeDuplicateDatabase  = "42P04" // CREATE DATABASE lost a race
	codeUniqueViolation    = "23505" // the same race, lost at pg_database's unique index
)

// maintenanceDatabases are tried, in order, to issue CREATE DATABASE from.
var maintenanceDatabases = []string{"postgres", "template1"}

// EnsureDatabase makes sure the database named in url exists and accepts connections,
// creating it when missing (from the same server's "postgres" database, or "template1", with
// the same credentials). Several processes may call it at once: losing the creation race
// counts as success. It fails if url cannot be parsed, no server answers, the server refuses
// the credentials, or the role may not create the missing database.
func EnsureDatabase(ctx context.Context, url string) error {
	cfg, err := parseConfig(url)
	if err != nil {
		return fmt.Errorf("parse database url: %w", err)
	}
	return ensureDatabase(ctx, cfg)
}

// parseConfig parses a URL or keyword/value connection string and fills in the database
// the server would pick when none is named: the user's name.
func parseConfig(connString string) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err // pgconn.ParseConfigError redacts the password
	}
	if cfg.Database == "" {
		cfg.Database = cfg.User
	}
	return cfg, nil
}

func ensureDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	err := ping(ctx, cfg)
	if !hasCode(err, codeInvalidCatalogName) {
		return err
	}
	if err := createDatabase(ctx, cfg); err != nil {
		return err
	}
	return ping(ctx, cfg)
}

// ping opens one connection, checks it, and closes it.
func ping(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return err // pgconn.ConnectError already names the user, database and address
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := conn.Ping(ctx); err != nil {
		return fmt.Errorf("ping %s: %w", cfg.Database, err)
	}
	return nil
}

func createDatabase(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := connectMaintenance(ctx, cfg)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	sql := "CREATE DATABASE " + pgx.Identifier{cfg.Database}.Sanitize()
	_, err = conn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol)
	if err != nil && !hasCode(err, codeDuplicateDatabase, codeUniqueViolation) {
		return fmt.Errorf("create database %s: %w", cfg.Database, err)
	}
	return nil
}

func connectMaintenance(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	var err error
	for _, name := range maintenanceDatabases {
		admin := cfg.Copy()
		admin.Database = name
		var conn *pgx.Conn
		if conn, err = pgx.ConnectConfig(ctx, admin); err == nil {
			return conn, nil
		}
		if !hasCode(err, codeInvalidCatalogName) {
			break
		}
	}
	return nil, fmt.Errorf("connect to a maintenance database to create %s: %w", cfg.Database, err)
}

// hasCode reports whether err carries a PostgreSQL error with one of the SQLSTATE codes.
func hasCode(err error, codes ...string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && slices.Contains(codes, pgErr.Code)
}

// describe renders cfg as a URL without its password, for logs and error messages.
func describe(cfg *pgx.ConnConfig) string {
	u := url.URL{Scheme: "postgres", User: url.User(cfg.User), Path: "/" + cfg.Database}
	if strings.HasPrefix(cfg.Host, "/") {
		u.RawQuery = url.Values{"host": {cfg.Host}}.Encode()
	} else {
		u.Host = net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	}
	return u.String()
}

// loopbackURL is the URL of database db on the server at addr (host:port), as user, with
// no password and no TLS (trust auth over loopback).
func loopbackURL(user, addr, db string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.User(user),
		Host:     addr,
		Path:     "/" + db,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}
