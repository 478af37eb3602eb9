package webhooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// Store is the endpoints' and deliveries' tables (MigrationSet). Every method is scoped to a
// tenant: another tenant's endpoint is ErrNotFound.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns the store over pool (whose search_path finds the tables).
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// NewEndpoint is a registration.
type NewEndpoint struct {
	Tenant      string
	URL         string
	Description string
	EventTypes  []string
	Secret      Secret
	Enabled     bool
	// IdempotencyKey and RequestHash make a retried registration answer the first one.
	IdempotencyKey string
	RequestHash    []byte
}

const endpointCols = `id, tenant, url, description, event_types, enabled, from_position, created_at, updated_at, secret_rotated_at,
  failures, paused_until`

func scanEndpoint(row pgx.Row, extra ...any) (Endpoint, error) {
	var e Endpoint
	var from int64
	dest := append([]any{&e.ID, &e.Tenant, &e.URL, &e.Description, &e.EventTypes, &e.Enabled, &from, &e.CreatedAt,
		&e.UpdatedAt, &e.SecretRotatedAt, &e.Failures, &e.PausedUntil}, extra...)
	if err := row.Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return Endpoint{}, ErrNotFound
		}
		return Endpoint{}, fmt.Errorf("webhooks: %w", err)
	}
	e.FromPosition = eventstore.Position(from) //nolint:gosec // checked non-negative by the table
	return e, nil
}

// Head reports the head of the event store.
type Head func(ctx context.Context) (eventstore.Position, error)

// Create registers an endpoint and returns it with its secret. The endpoint receives the
// events after the head (FromPosition, read by head): the registration holds the fan-out's
// checkpoint row while it reads the head and inserts, so every event after that head is fanned
// out after the endpoint is visible, none is missed. A retry with the same idempotency key
// and request returns the first registration (replayed true); with another request,
// ErrKeyReused.
func (s *Store) Create(ctx context.Context, n NewEndpoint, now time.Time, head Head) (e Endpoint, secret string, replayed bool, err error) {
	if n.EventTypes == nil {
		n.EventTypes = []string{}
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Endpoint{}, "", false, fmt.Errorf("webhooks: %w", err)
	}
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := lockFanout(ctx, tx); err != nil {
			return err
		}
		from, err := head(ctx)
		if err != nil {
			return fmt.Errorf("webhooks: the head: %w", err)
		}
		e, err = scanEndpoint(tx.QueryRow(ctx, `INSERT INTO webhook_endpoints
  (id, tenant, url, description, event_types, secret, enabled, from_position, idempotency_key, request_hash, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
ON CONFLICT (tenant, idempotency_key) DO NOTHING RETURNING `+endpointCols,
			id, n.Tenant, n.URL, n.Description, n.EventTypes, n.Secret.String(), n.Enabled, int64(from), //nolint:gosec // positions fit
			n.IdempotencyKey, n.RequestHash, now))
		secret = n.Secret.String()
		if !errors.Is(err, ErrNotFound) {
			return err
		}
		var hash []byte
		e, err = scanEndpoint(tx.QueryRow(ctx, `SELECT `+endpointCols+`, secret, request_hash FROM webhook_endpoints
WHERE tenant = $1 AND idempotency_key = $2`, n.Tenant, n.IdempotencyKey), &secret, &hash)
		if err == nil && !bytes.Equal(hash, n.RequestHash) {
			return ErrKeyReused
		}
		replayed = true
		return err
	})
	if err != nil {
		return Endpoint{}, "", false, err
	}
	return e, secret, replayed, nil
}

// lockFanout takes the lock of the fan-out's checkpoint row (creating it if missing) until
// tx ends: the fan-out's transactions wait for it.
func lockFanout(ctx context.Context, tx pgx.Tx) error {
	t := consumer.TableIn("")
	if _, err := tx.Exec(ctx, t.Ensure, FanoutConsumer); err != nil {
		return fmt.Errorf("webhooks: lock the fan-out: %w", err)
	}
	var pos int64
	var at *time.Time
	var holder *string
	if err := tx.QueryRow(ctx, t.Lock, FanoutConsumer).Scan(&pos, &at, &holder); err != nil {
		return fmt.Errorf("webhooks: lock the fan-out: %w", err)
	}
	return nil
}

// Get returns the tenant's endpoint id.
func (s *Store) Get(ctx context.Context, tenant string, id uuid.UUID) (Endpoint, error) {
	return scanEndpoint(s.pool.QueryRow(ctx, `SELECT `+endpointCols+` FROM webhook_endpoints WHERE tenant = $1 AND id = $2`, tenant, id))
}

// List returns up to limit of the tenant's endpoints after the one with key after (oldest
// first; nil: from the first).
func (s *Store) List(ctx context.Context, tenant string, after *EndpointKey, limit int) ([]Endpoint, error) {
	sql := `SELECT ` + endpointCols + ` FROM webhook_endpoints WHERE tenant = $1`
	args := []any{tenant}
	if after != nil {
		sql += ` AND (created_at, id) > ($2, $3)`
		args = append(args, after.CreatedAt, after.ID)
	}
	args = append(args, limit)
	sql += fmt.Sprintf(` ORDER BY created_at, id LIMIT $%d`, len(args))
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("webhooks: list endpoints: %w", err)
	}
	defer rows.Close()
	var out []Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// EndpointKey is the sort key of an endpoint in List.
type EndpointKey struct {
	CreatedAt time.Time
	ID        uuid.UUID
}

// Change is an update of an endpoint; nil fields stay as they are.
type Change struct {
	URL         *string
	Description *string
	EventTypes  *[]string
	Enabled     *bool
}

// Update applies c to the tenant's endpoint id and returns it. Enabling it or changing its
// URL ends a pause after failures: the next attempt starts at once.
func (s *Store) Update(ctx context.Context, tenant string, id uuid.UUID, c Change, now time.Time) (Endpoint, error) {
	var types []string
	if c.EventTypes != nil {
		types = *c.EventTypes
		if types == nil {
			types = []string{}
		}
	}
	return scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET url = coalesce($3, url),
  description = coalesce($4, description), event_types = coalesce($5, event_types), enabled = coalesce($6, enabled), updated_at = $7,
  failures = CASE WHEN $6 OR ($3 IS NOT NULL AND $3 <> url) THEN 0 ELSE failures END,
  paused_until = CASE WHEN $6 OR ($3 IS NOT NULL AND $3 <> url) THEN NULL ELSE paused_until END
WHERE tenant = $1 AND id = $2 RETURNING `+endpointCols, tenant, id, c.URL, c.Description, nilIfAbsent(c.EventTypes, types), c.Enabled, now))
}

func nilIfAbsent(p *[]string, v []string) any {
	if p == nil {
		return nil
	}
	return v
}

// Rotate replaces the endpoint's secret with secret, unless key is the key of the last
// rotation (a retry), and returns the secret in force.
func (s *Store) Rotate(ctx context.Context, tenant string, id uuid.UUID, secret Secret, key string, now time.Time) (Endpoint, string, error) {
	var current string
	e, err := scanEndpoint(s.pool.QueryRow(ctx, `UPDATE webhook_endpoints SET
  secret = CASE WHEN rotate_key IS NOT DISTINCT FROM $4 THEN secret ELSE $3 END,
  secret_rotated_at = CASE WHEN rotate_key IS NOT DISTINCT FROM $4 THEN secret_rotated_at ELSE $5 END,
  updated_at = CASE WHEN rotate_key IS NOT DISTINCT FROM $4 THEN updated_at ELSE $5 END,
  rotate_key = $4
WHERE tenant = $1 AND id = $2 RETURNING `+endpointCols+`, secret`, tenant, id, secret.String(), key, now), &current)
	return e, current, err
}
