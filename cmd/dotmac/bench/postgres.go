package bench

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/db"
)

// postgresSettings are the server settings a reader of the figures needs: what makes a
// commit wait (fsync, synchronous_commit), the memory PostgreSQL caches pages in
// (shared_buffers, huge_pages: without huge pages every new backend faults each page of it
// in), and autovacuum, without which nothing vacuums the tables the ledger updates in place
// during a run (after one commands scenario the open invoices held 5,453 dead row versions
// beside 147 live ones), while pgbench's baseline only inserts. The settings at odds with the
// ledger's promises also get serve's warning (db.CheckSettings) as a note.
var postgresSettings = []string{"autovacuum", "fsync", "synchronous_commit", "shared_buffers", "huge_pages"}

// describePostgres fills m's description of the server: its version, postgresSettings'
// values, and serve's warnings about them.
func describePostgres(ctx context.Context, pool *pgxpool.Pool, m *Machine) error {
	version, settings, err := readPostgres(ctx, pool)
	if err != nil {
		return err
	}
	warnings, err := db.CheckSettings(ctx, pool)
	if err != nil {
		return fmt.Errorf("describe PostgreSQL: %w", err)
	}
	m.Postgres, m.PostgresSettings, m.PostgresNotes = version, settings, nil
	for _, w := range warnings {
		m.PostgresNotes = append(m.PostgresNotes, w.Setting+" is "+w.Value+": "+w.Risk)
	}
	return nil
}

// readPostgres returns the server's version and postgresSettings' values.
func readPostgres(ctx context.Context, pool *pgxpool.Pool) (string, map[string]string, error) {
	var version string
	if err := pool.QueryRow(ctx, `SHOW server_version`).Scan(&version); err != nil {
		return "", nil, fmt.Errorf("describe PostgreSQL: %w", err)
	}
	rows, err := pool.Query(ctx, `SELECT name, current_setting(name) FROM unnest($1::text[]) AS name`, postgresSettings)
	if err != nil {
		return "", nil, fmt.Errorf("describe PostgreSQL: %w", err)
	}
	defer rows.Close()
	settings := make(map[string]string, len(postgresSettings))
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return "", nil, fmt.Errorf("describe PostgreSQL: %w", err)
		}
		settings[name] = value
	}
	if err := rows.Err(); err != nil {
		return "", nil, fmt.Errorf("describe PostgreSQL: %w", err)
	}
	return version, settings, nil
}

// postgresLine is the report's line on the server: its version and settings, then a note for
// each setting at odds with the ledger's promises.
func (m Machine) postgresLine() string {
	if m.Postgres == "" {
		return ""
	}
	var parts []string
	for _, name := range postgresSettings {
		if v, ok := m.PostgresSettings[name]; ok {
			parts = append(parts, name+" "+v)
		}
	}
	line := "PostgreSQL " + m.Postgres
	if len(parts) > 0 {
		line += " (" + strings.Join(parts, ", ") + ")"
	}
	for _, n := range m.PostgresNotes {
		line += "\nnote: " + n
	}
	return line
}
