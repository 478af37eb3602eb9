package webhooks

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
)

// outboxRow is one delivery to enqueue.
type outboxRow struct {
	endpointID uuid.UUID
	tenant     string
	eventID    string
	eventType  string
	position   int64
	payload    []byte
}

// enqueueSQL adds a delivery, due at once; $8 (reset) makes an existing delivery of the event
// due again (a replay), unless it is being attempted right now.
const enqueueSQL = `INSERT INTO webhook_deliveries AS d
  (endpoint_id, tenant, event_id, event_type, position, payload, next_attempt_at, expires_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $7::timestamptz + $9::interval)
ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', next_attempt_at = excluded.next_attempt_at,
  expires_at = excluded.expires_at, delivered_at = NULL
WHERE $8 AND (d.locked_until IS NULL OR d.locked_until <= $7)`

// enqueue adds rows in tx (one round trip).
func enqueue(ctx context.Context, tx pgx.Tx, rows []outboxRow, now time.Time, maxAge time.Duration, reset bool) (int, error) {
	if len(rows) == 0 {
		return 0, nil
	}
	b := &pgx.Batch{}
	for _, r := range rows {
		b.Queue(enqueueSQL, r.endpointID, r.tenant, r.eventID, r.eventType, r.position, r.payload, now, reset, maxAge)
	}
	br := tx.SendBatch(ctx, b)
	n := 0
	for range rows {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return n, fmt.Errorf("webhooks: enqueue: %w", err)
		}
		n += int(tag.RowsAffected())
	}
	return n, br.Close()
}

// DeliveryKey is the sort key of a delivery in Deliveries (newest first).
type DeliveryKey struct{ Seq int64 }

// maxAttemptsShown bounds the attempts listed with each delivery (the latest ones).
const maxAttemptsShown = 20

// Deliveries returns up to limit of an endpoint's deliveries, newest first, after the one
// with key after, with their latest attempts; status filters them ("" for all). The
// endpoint must be the tenant's (ErrNotFound).
func (s *Store) Deliveries(ctx context.Context, tenant string, endpointID uuid.UUID, status string, after *DeliveryKey, limit int) ([]Delivery, []DeliveryKey, error) {
	if _, err := s.Get(ctx, tenant, endpointID); err != nil {
		return nil, nil, err
	}
	var afterSeq *int64
	if after != nil {
		afterSeq = &after.Seq
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, id, endpoint_id, event_id, event_type, position, status, attempts, next_attempt_at,
  expires_at, last_status, last_error, last_latency_ms, delivered_at, created_at
FROM webhook_deliveries WHERE endpoint_id = $1 AND tenant = $2 AND ($3::text = '' OR status = $3)
  AND ($4::bigint IS NULL OR seq < $4) ORDER BY seq DESC LIMIT $5`, endpointID, tenant, status, afterSeq, limit)
	if err != nil {
		return nil, nil, fmt.Errorf("webhooks: deliveries: %w", err)
	}
	out, keys, err := scanDeliveries(rows)
	if err != nil {
		return nil, nil, err
	}
	return out, keys, s.attachAttempts(ctx, out, keys)
}

func scanDeliveries(rows pgx.Rows) ([]Delivery, []DeliveryKey, error) {
	defer rows.Close()
	var out []Delivery
	var keys []DeliveryKey
	for rows.Next() {
		var d Delivery
		var k DeliveryKey
		var pos int64
		if err := rows.Scan(&k.Seq, &d.ID, &d.EndpointID, &d.EventID, &d.EventType, &pos, &d.Status, &d.Attempts, &d.NextAttemptAt,
			&d.ExpiresAt, &d.LastStatus, &d.LastError, &d.LastLatencyMS, &d.DeliveredAt, &d.CreatedAt); err != nil {
			return nil, nil, fmt.Errorf("webhooks: deliveries: %w", err)
		}
		d.Position = positionOf(pos)
		if d.Status != StatusPending {
			d.NextAttemptAt = nil
		}
		out, keys = append(out, d), append(keys, k)
	}
	return out, keys, rows.Err()
}

// attachAttempts reads the latest attempts of each delivery.
func (s *Store) attachAttempts(ctx context.Context, ds []Delivery, keys []DeliveryKey) error {
	if len(ds) == 0 {
		return nil
	}
	seqs := make([]int64, len(keys))
	at := map[int64]int{}
	for i, k := range keys {
		seqs[i], at[k.Seq] = k.Seq, i
	}
	rows, err := s.pool.Query(ctx, `SELECT a.delivery_seq, a.n, a.started_at, a.latency_ms, a.status_code, a.error
FROM unnest($1::bigint[]) AS s(seq) CROSS JOIN LATERAL (
  SELECT * FROM webhook_attempts WHERE delivery_seq = s.seq ORDER BY n DESC LIMIT $2) a ORDER BY a.delivery_seq, a.n`, seqs, maxAttemptsShown)
	if err != nil {
		return fmt.Errorf("webhooks: attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var seq int64
		var a Attempt
		if err := rows.Scan(&seq, &a.N, &a.StartedAt, &a.LatencyMS, &a.StatusCode, &a.Error); err != nil {
			return fmt.Errorf("webhooks: attempts: %w", err)
		}
		ds[at[seq]].Log = append(ds[at[seq]].Log, a)
	}
	return rows.Err()
}

// Redeliver makes a delivery of the tenant's endpoint due now, whatever its status, with a
// fresh MaxAge to succeed in, and ends the endpoint's pause after failures (a person asks
// for an attempt now); ErrInFlight while it is being attempted.
func (s *Store) Redeliver(ctx context.Context, tenant string, endpointID, deliveryID uuid.UUID, now time.Time, maxAge time.Duration) error {
	var n int
	err := s.pool.QueryRow(ctx, `WITH d AS (
  UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $4, expires_at = $4::timestamptz + $5::interval, delivered_at = NULL
  WHERE tenant = $1 AND endpoint_id = $2 AND id = $3 AND (locked_until IS NULL OR locked_until <= $4) RETURNING endpoint_id
), e AS (
  UPDATE webhook_endpoints e SET paused_until = NULL FROM d WHERE e.id = d.endpoint_id AND e.paused_until IS NOT NULL
)
SELECT count(*) FROM d`, tenant, endpointID, deliveryID, now, maxAge).Scan(&n)
	if err != nil {
		return fmt.Errorf("webhooks: redeliver: %w", err)
	}
	if n == 1 {
		return nil
	}
	var locked bool
	err = s.pool.QueryRow(ctx, `SELECT true FROM webhook_deliveries WHERE tenant = $1 AND endpoint_id = $2 AND id = $3`,
		tenant, endpointID, deliveryID).Scan(&locked)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("webhooks: redeliver: %w", err)
	}
	return ErrInFlight
}
