package watermill

import (
	"context"
	"embed"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/migrate"
)

// OffsetStore keeps consumer-group offsets. Implementations must be safe for concurrent use.
type OffsetStore interface {
	// Load returns the position up to which group has acknowledged topic (0: nothing yet).
	Load(ctx context.Context, group, topic string) (eventstore.Position, error)
	// Save records that group has acknowledged topic up to pos. An offset never moves
	// backwards: saving a lower position than the stored one changes nothing.
	Save(ctx context.Context, group, topic string, pos eventstore.Position) error
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the schema of PostgresOffsets (table wm_offsets), for internal/migrate.
func MigrationSet() migrate.Set {
	return migrate.Embedded("watermill", "wm_schema_migrations", migrationFiles)
}

// PostgresOffsets stores offsets in the table wm_offsets (MigrationSet), found through the
// pool's search_path.
type PostgresOffsets struct {
	pool *pgxpool.Pool
}

var _ OffsetStore = (*PostgresOffsets)(nil)

// NewPostgresOffsets returns an OffsetStore over pool.
func NewPostgresOffsets(pool *pgxpool.Pool) *PostgresOffsets { return &PostgresOffsets{pool: pool} }

// Load implements OffsetStore.
func (o *PostgresOffsets) Load(ctx context.Context, group, topic string) (eventstore.Position, error) {
	var pos int64
	err := o.pool.QueryRow(ctx, `SELECT position FROM wm_offsets WHERE consumer_group = $1 AND topic = $2`, group, topic).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("load offset of %s/%s: %w", group, topic, err)
	}
	return eventstore.Position(pos), nil //nolint:gosec // checked non-negative by the table
}

// Save implements OffsetStore.
func (o *PostgresOffsets) Save(ctx context.Context, group, topic string, pos eventstore.Position) error {
	_, err := o.pool.Exec(ctx, `INSERT INTO wm_offsets (consumer_group, topic, position) VALUES ($1, $2, $3)
ON CONFLICT (consumer_group, topic) DO UPDATE
SET position = greatest(wm_offsets.position, excluded.position), updated_at = now()`, group, topic, int64(pos)) //nolint:gosec // positions fit
	if err != nil {
		return fmt.Errorf("save offset of %s/%s: %w", group, topic, err)
	}
	return nil
}
