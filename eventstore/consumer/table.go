package consumer

import (
	"embed"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the schema of the feed consumers (table feed_checkpoints), for
// internal/migrate. Sets whose tables consumers feed list it in their Requires. Its first
// migration adopts the consumer-group offsets of earlier installs (wm_offsets).
func MigrationSet() migrate.Set {
	return migrate.Embedded("consumer", "feed_schema_migrations", migrationFiles)
}

// Table holds the statements over feed_checkpoints that callers run in their own
// transactions, the table qualified by a schema (TableIn). $1 is always the consumer's name.
type Table struct {
	// Ensure creates the consumer's row if missing; it changes nothing otherwise.
	Ensure string
	// Reset sets the consumer's place to $2 (position) and $3 (recorded_at), backwards too.
	Reset string
	// Read selects the consumer's position (0 when none is stored) and recorded_at.
	Read string
	// Lock is Read taking the row's lock until the transaction ends, with the lease holder:
	// transactions that apply the feed and advance the row take turns on it.
	Lock string
	// Advance moves the consumer's place forwards to $2 (position) and $3 (recorded_at);
	// it never moves it backwards.
	Advance string
	// Skip moves the consumer's place from $2 to $3 (position) and $4 (recorded_at) only
	// while it is at $2 (Consumer.skip).
	Skip string
	// Delete removes the consumer's row.
	Delete string
	// Lease selects the lease holder (NULL: none), when the lease expires and when it was
	// last renewed.
	Lease string
}

// TableIn returns the statements with feed_checkpoints qualified by schema ("" leaves the
// table to the search_path).
func TableIn(schema string) Table {
	t := "feed_checkpoints"
	if schema != "" {
		t = pgx.Identifier{schema, t}.Sanitize()
	}
	return Table{
		Ensure:  `INSERT INTO ` + t + ` (consumer) VALUES ($1) ON CONFLICT (consumer) DO NOTHING`,
		Reset:   `UPDATE ` + t + ` SET position = $2, recorded_at = $3, updated_at = now() WHERE consumer = $1`,
		Read:    `SELECT coalesce(position, 0), recorded_at FROM ` + t + ` WHERE consumer = $1`,
		Lock:    `SELECT coalesce(position, 0), recorded_at, lease_holder FROM ` + t + ` WHERE consumer = $1 FOR UPDATE`,
		Advance: `UPDATE ` + t + ` SET position = $2, recorded_at = $3, updated_at = now() WHERE consumer = $1 AND coalesce(position, 0) < $2`,
		Skip:    `UPDATE ` + t + ` SET position = $3, recorded_at = $4, updated_at = now() WHERE consumer = $1 AND position = $2`,
		Delete:  `DELETE FROM ` + t + ` WHERE consumer = $1`,
		Lease:   `SELECT lease_holder, lease_expires_at, lease_renewed_at FROM ` + t + ` WHERE consumer = $1`,
	}
}

// lease statements: $1 consumer, $2 holder, $3 expires at, $4 now.
func leaseSQL(schema string) (acquire, renew, release string) {
	t := "feed_checkpoints"
	if schema != "" {
		t = pgx.Identifier{schema, t}.Sanitize()
	}
	acquire = `INSERT INTO ` + t + ` AS f (consumer, lease_holder, lease_expires_at, lease_renewed_at) VALUES ($1, $2, $3, $4)
ON CONFLICT (consumer) DO UPDATE SET lease_holder = excluded.lease_holder, lease_expires_at = excluded.lease_expires_at,
    lease_renewed_at = excluded.lease_renewed_at
WHERE f.lease_holder IS NULL OR f.lease_holder = excluded.lease_holder OR f.lease_expires_at <= excluded.lease_renewed_at
RETURNING true`
	renew = `UPDATE ` + t + ` SET lease_expires_at = $3, lease_renewed_at = $4 WHERE consumer = $1 AND lease_holder = $2`
	release = `UPDATE ` + t + ` SET lease_holder = NULL, lease_expires_at = NULL WHERE consumer = $1 AND lease_holder = $2`
	return acquire, renew, release
}
