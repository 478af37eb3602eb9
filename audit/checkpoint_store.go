package audit

import (
	"context"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// MigrationSet is the schema of the signed checkpoints (table audit_checkpoints), for
// internal/migrate. It requires no other set: checkpoints name feed positions but reference no
// table, so they live in PostgreSQL whichever backend holds the events.
func MigrationSet() migrate.Set {
	s := migrate.Embedded("audit", "audit_schema_migrations", migrationFiles)
	s.AppendOnly = []string{"audit_checkpoints"} // the runtime role may sign, never rewrite or delete
	return s
}

// CheckpointSource is where a verification reads signed checkpoints from: the database
// (CheckpointStore) or an export (ExportCheckpoints).
type CheckpointSource interface {
	// Checkpoints returns every checkpoint with Position <= upto (0: all), in position order,
	// without their marks.
	Checkpoints(ctx context.Context, upto eventstore.Position) ([]Checkpoint, error)
	// Marks returns the marks (binary) of the checkpoint at position.
	Marks(ctx context.Context, position eventstore.Position) ([]byte, error)
}

// CheckpointStore keeps signed checkpoints in audit_checkpoints.
type CheckpointStore struct {
	pool *pgxpool.Pool
}

var _ CheckpointSource = (*CheckpointStore)(nil)

// NewCheckpointStore returns the store over pool (MigrationSet applied).
func NewCheckpointStore(pool *pgxpool.Pool) *CheckpointStore { return &CheckpointStore{pool: pool} }

// ErrCheckpointTaken: another signer inserted the checkpoint after the same position first.
var ErrCheckpointTaken = errors.New("another process signed that span first")

const checkpointColumns = `position, prev_position, prev_digest, digest, events, signed_at, key_id, signature`

// Insert stores c (with its marks, hex). ErrCheckpointTaken when a checkpoint at its position
// or after its prev_position exists.
func (s *CheckpointStore) Insert(ctx context.Context, c *Checkpoint) error {
	var args []any
	for _, h := range []string{c.PrevDigest, c.Digest, c.Signature, c.Marks} {
		b, err := hex.DecodeString(h)
		if err != nil {
			return fmt.Errorf("insert checkpoint: %w", err)
		}
		args = append(args, b)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO audit_checkpoints (`+checkpointColumns+`, marks) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		int64(c.Position), int64(c.PrevPosition), args[0], args[1], c.Events, c.SignedAt, c.KeyID, args[2], args[3]) //nolint:gosec // positions fit
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return ErrCheckpointTaken
	}
	if err != nil {
		return fmt.Errorf("insert checkpoint: %w", err)
	}
	return nil
}

// Last returns the checkpoint with the highest position; ok is false when there is none.
func (s *CheckpointStore) Last(ctx context.Context) (c Checkpoint, ok bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints ORDER BY position DESC LIMIT 1`)
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("last checkpoint: %w", err)
	}
	cs, err := scanCheckpoints(rows)
	if err != nil || len(cs) == 0 {
		return Checkpoint{}, false, err
	}
	return cs[0], true, nil
}

// Checkpoints implements CheckpointSource.
func (s *CheckpointStore) Checkpoints(ctx context.Context, upto eventstore.Position) ([]Checkpoint, error) {
	if upto == 0 {
		upto = eventstore.Position(1<<63 - 1)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+checkpointColumns+` FROM audit_checkpoints WHERE position <= $1 ORDER BY position`, int64(upto)) //nolint:gosec // positions fit
	var cps []Checkpoint
	if err == nil {
		cps, err = scanCheckpoints(rows)
	}
	if noTable(err) {
		return nil, nil // a database no signer has migrated (verify and export read, never migrate): no checkpoints
	}
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return cps, nil
}

// noTable reports whether err is PostgreSQL's undefined_table.
func noTable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42P01"
}

// Marks implements CheckpointSource.
func (s *CheckpointStore) Marks(ctx context.Context, position eventstore.Position) ([]byte, error) {
	var b []byte
	err := s.pool.QueryRow(ctx, `SELECT marks FROM audit_checkpoints WHERE position = $1`, int64(position)).Scan(&b) //nolint:gosec // positions fit
	if err != nil {
		return nil, fmt.Errorf("read the marks of the checkpoint at %d: %w", position, err)
	}
	return b, nil
}

func scanCheckpoints(rows pgx.Rows) ([]Checkpoint, error) {
	defer rows.Close()
	var out []Checkpoint
	for rows.Next() {
		var c Checkpoint
		var pos, prev int64
		var prevDigest, digest, sig []byte
		var at time.Time
		if err := rows.Scan(&pos, &prev, &prevDigest, &digest, &c.Events, &at, &c.KeyID, &sig); err != nil {
			return nil, fmt.Errorf("read checkpoints: %w", err)
		}
		c.Position, c.PrevPosition = eventstore.Position(pos), eventstore.Position(prev) //nolint:gosec // checked positive
		c.PrevDigest, c.Digest, c.Signature = hex.EncodeToString(prevDigest), hex.EncodeToString(digest), hex.EncodeToString(sig)
		c.SignedAt = at.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	return out, nil
}
