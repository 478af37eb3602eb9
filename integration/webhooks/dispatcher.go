package webhooks

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/internal/pglisten"
)

// Headers of a delivery (Standard Webhooks).
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	userAgent       = "dotmac-ledger-webhooks/1"
)

// Limits of the dispatcher.
const (
	// claimSlack is added to Timeout for a claim's lock: a process that dies mid-attempt
	// leaves its deliveries due again after Timeout + claimSlack.
	claimSlack = 30 * time.Second
	// maxResponseBytes is the most of an answer's body read (and discarded) to reuse the
	// connection.
	maxResponseBytes = 64 << 10
	// maxErrorBytes bounds the error text stored with an attempt.
	maxErrorBytes = 500
	// claimLockKey is the advisory lock that serializes claims across processes, so that
	// PerEndpoint holds across them.
	claimLockKey = 0x77686b73 // "whks"
)

// claim is a delivery the dispatcher took to attempt.
type claim struct {
	seq       int64
	endpoint  uuid.UUID
	eventID   uuid.UUID
	payload   []byte
	attempts  int
	expiresAt time.Time
	url       string
	secret    string
}

// dispatch attempts due deliveries until ctx ends, at most Workers at once.
func (s *Service) dispatch(ctx context.Context) {
	l := pglisten.New(s.pool, notifyChannel, s.cfg.Logger, nil)
	l.Start()
	defer l.Stop()
	sem := make(chan struct{}, s.cfg.Workers)
	done := make(chan struct{}, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	for ctx.Err() == nil {
		wake, _, _ := l.Snapshot()
		free := s.cfg.Workers - len(sem)
		claimed, err := s.claim(ctx, free)
		if err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn().Err(err).Msg("webhooks: claiming deliveries failed; retrying")
		}
		for _, c := range claimed {
			sem <- struct{}{}
			s.m.inflight.Inc()
			wg.Go(func() {
				defer func() {
					s.m.inflight.Dec()
					<-sem
					select {
					case done <- struct{}{}:
					default:
					}
				}()
				s.attempt(ctx, c)
			})
		}
		if err == nil && free > 0 && len(claimed) == free {
			continue // there may be more due now
		}
		timer := time.NewTimer(s.cfg.Poll)
		select {
		case <-wake:
		case <-done:
		case <-timer.C:
		case <-ctx.Done():
		}
		timer.Stop()
	}
}

// claimSQL takes up to $3 due deliveries of enabled endpoints that are not paused, at most
// $4 in flight per endpoint (counting those already in flight; 1 after a failure, a probe),
// oldest due first, locking them until $2. It looks at each endpoint's oldest due deliveries
// through the index, so its cost grows with the endpoints, not with their backlogs.
const claimSQL = `WITH picked AS (
  SELECT c.seq FROM webhook_endpoints e
  CROSS JOIN LATERAL (
    SELECT d.seq, d.next_attempt_at FROM webhook_deliveries d
    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1 AND (d.locked_until IS NULL OR d.locked_until <= $1)
    ORDER BY d.next_attempt_at, d.seq
    LIMIT greatest(0, CASE WHEN e.failures > 0 THEN 1 ELSE $4 END - (
      SELECT count(*) FROM webhook_deliveries b
      WHERE b.endpoint_id = e.id AND b.status = 'pending' AND b.locked_until IS NOT NULL AND b.locked_until > $1))
  ) c
  WHERE e.enabled AND (e.paused_until IS NULL OR e.paused_until <= $1)
  ORDER BY c.next_attempt_at, c.seq LIMIT $3
)
UPDATE webhook_deliveries d SET locked_until = $2
FROM picked p, webhook_endpoints e
WHERE d.seq = p.seq AND e.id = d.endpoint_id
RETURNING d.seq, d.endpoint_id, d.event_id, d.payload, d.attempts, d.expires_at, e.url, e.secret`

// claim takes up to n due deliveries for this process to attempt.
func (s *Service) claim(ctx context.Context, n int) ([]claim, error) {
	if n <= 0 {
		return nil, nil
	}
	now := s.cfg.Now()
	var out []claim
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, claimLockKey); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, claimSQL, now, now.Add(s.cfg.Timeout+claimSlack), n, s.cfg.PerEndpoint)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var c claim
			if err := rows.Scan(&c.seq, &c.endpoint, &c.eventID, &c.payload, &c.attempts, &c.expiresAt, &c.url, &c.secret); err != nil {
				return err
			}
			out = append(out, c)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("webhooks: claim: %w", err)
	}
	return out, nil
}

// outcome is what one attempt found.
type outcome struct {
	started time.Time
	latency time.Duration
	status  int // 0: no answer
	err     error
}

func (o outcome) ok() bool { return o.err == nil && o.status >= 200 && o.status < 300 }

// attempt sends one delivery and records the attempt. An attempt cut short by shutdown is
// not counted: the delivery is unlocked and due again at once.
func (s *Service) attempt(ctx context.Context, c claim) {
	o := s.send(ctx, c)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimSlack)
	defer cancel()
	if ctx.Err() != nil && !o.ok() {
		if _, err := s.pool.Exec(rctx, `UPDATE webhook_deliveries SET locked_until = NULL WHERE seq = $1`, c.seq); err != nil {
			s.cfg.Logger.Warn().Err(err).Int64("delivery", c.seq).Msg("webhooks: unlocking a delivery at shutdown")
		}
		return
	}
	if err := s.record(rctx, c, o); err != nil {
		s.cfg.Logger.Warn().Err(err).Int64("delivery", c.seq).Msg("webhooks: recording an attempt failed; the delivery is attempted again when its claim lapses")
	}
}

// send makes the signed POST of a delivery.
func (s *Service) send(ctx context.Context, c claim) outcome {
	o := outcome{started: s.cfg.Now()}
	secret, err := ParseSecret(c.secret)
	if err != nil {
		o.err = fmt.Errorf("invariant: the endpoint's stored secret: %w", err)
		return o
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(c.payload))
	if err != nil {
		o.err = err
		return o
	}
	id := c.eventID.String()
	req.Header.Set("Content-Type", "application/cloudevents+json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderID, id)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(o.started.Unix(), 10))
	req.Header.Set(HeaderSignature, secret.Sign(id, o.started, c.payload))
	begin := time.Now()
	resp, err := s.client.Do(req)
	if err == nil {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
		_ = resp.Body.Close()
		o.status = resp.StatusCode
	}
	o.latency, o.err = time.Since(begin), err
	s.m.observe(o)
	return o
}

// recordSQL counts an attempt on its delivery and logs it: $2 status, $3 next attempt.
const recordSQL = `WITH d AS (
  UPDATE webhook_deliveries SET attempts = attempts + 1, status = $2, next_attempt_at = $3, locked_until = NULL,
    last_status = $4, last_error = $5, last_latency_ms = $6, delivered_at = CASE WHEN $2 = 'delivered' THEN $7::timestamptz END
  WHERE seq = $1 RETURNING seq, attempts)
INSERT INTO webhook_attempts (delivery_seq, n, started_at, latency_ms, status_code, error)
SELECT seq, attempts, $7, $6, $4, $5 FROM d`

// pauseSQL counts a failed attempt of an endpoint and pauses it: $3 (MinBackoff) doubling
// with each failure in a row, up to $4 (MaxBackoff), up to half of it taken off at random. A
// failing endpoint is so tried once per pause, whatever its backlog, and holds no workers in
// between.
const pauseSQL = `UPDATE webhook_endpoints SET failures = failures + 1,
  paused_until = $2::timestamptz + least($4::interval, $3::interval * power(2, least(failures, 30))) * (1 - random() / 2)
WHERE id = $1`

// record stores an attempt and decides what follows: delivered, another attempt after a
// backoff, or failed once the next attempt would come after the delivery expires.
func (s *Service) record(ctx context.Context, c claim, o outcome) error {
	status, next := StatusDelivered, (*time.Time)(nil)
	if !o.ok() {
		at := s.cfg.Now().Add(s.backoff(c.attempts + 1))
		status, next = StatusPending, &at
		if at.After(c.expiresAt) {
			status, next = StatusFailed, nil
		}
	}
	var code *int
	if o.status != 0 {
		code = &o.status
	}
	var msg *string
	if o.err != nil {
		m := truncate(o.err.Error(), maxErrorBytes)
		msg = &m
	} else if !o.ok() {
		m := "answered " + strconv.Itoa(o.status) + " " + http.StatusText(o.status)
		msg = &m
	}
	b := &pgx.Batch{}
	b.Queue(recordSQL, c.seq, status, next, code, msg, int(o.latency.Milliseconds()), o.started)
	switch {
	case o.ok():
		b.Queue(`UPDATE webhook_endpoints SET failures = 0, paused_until = NULL WHERE id = $1 AND failures > 0`, c.endpoint)
	case o.status == http.StatusGone:
		// The receiver says the endpoint is gone for good (Standard Webhooks): disable it; its
		// deliveries wait, pending, for an enable.
		b.Queue(`UPDATE webhook_endpoints SET enabled = false, updated_at = $2 WHERE id = $1`, c.endpoint, s.cfg.Now())
		b.Queue(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $2 WHERE seq = $1`, c.seq, s.cfg.Now())
	default:
		b.Queue(pauseSQL, c.endpoint, s.cfg.Now(), s.cfg.MinBackoff, s.cfg.MaxBackoff)
	}
	if err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return tx.SendBatch(ctx, b).Close() }); err != nil {
		return fmt.Errorf("webhooks: record an attempt: %w", err)
	}
	switch status {
	case StatusDelivered:
		s.m.deliveries.WithLabelValues(StatusDelivered).Inc()
	case StatusFailed:
		s.m.deliveries.WithLabelValues(StatusFailed).Inc()
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
