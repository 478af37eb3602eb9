package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// Defaults of KeysConfig.
const (
	// DefaultLease is how long a claim blocks other requests with its key. It must outlast the
	// command (the API bounds commands to less than this).
	DefaultLease = 90 * time.Second
	// DefaultWait is how long a request waits for a claim of its key held by another request.
	DefaultWait = 3 * time.Second
	// DefaultRetention is how long keys are kept (at least 24 hours, as the API promises).
	DefaultRetention = 48 * time.Hour
	// MinRetention is the shortest retention accepted.
	MinRetention = 24 * time.Hour
	// purgeBatchRows bounds the rows one purge statement deletes.
	purgeBatchRows = 1000
	// purgeMaxBatches bounds the statements of one Purge call.
	purgeMaxBatches = 100
	// claimPollInterval is how often a waiting request looks at the claim again.
	claimPollInterval = 20 * time.Millisecond
	// maxClaimRounds bounds the insert/read rounds of one Claim.
	maxClaimRounds = 1000
)

// KeysConfig tunes Keys. Zero values take the defaults.
type KeysConfig struct {
	Options
	Lease     time.Duration
	Wait      time.Duration
	Retention time.Duration
}

// Keys is the PostgreSQL commands.IdempotencyKeys (table cmd_idempotency).
type Keys struct {
	pool *pgxpool.Pool
	cfg  KeysConfig
}

var _ commands.IdempotencyKeys = (*Keys)(nil)

// NewKeys returns the idempotency keys in pool's schema (MigrationSet applied).
func NewKeys(pool *pgxpool.Pool, cfg KeysConfig) *Keys {
	if cfg.Lease <= 0 {
		cfg.Lease = DefaultLease
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultWait
	}
	if cfg.Retention <= 0 {
		cfg.Retention = DefaultRetention
	}
	cfg.Retention = max(cfg.Retention, MinRetention)
	return &Keys{pool: pool, cfg: cfg}
}

// Lease returns how long a claim holds its key.
func (k *Keys) Lease() time.Duration { return k.cfg.Lease }

// Claim implements commands.IdempotencyKeys.
func (k *Keys) Claim(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (commands.Claim, error) {
	deadline := time.Now().Add(k.cfg.Wait)
	for range maxClaimRounds {
		id, err := uuid.NewV7()
		if err != nil {
			return commands.Claim{}, err
		}
		tag, err := exec(ctx, k.pool, k.cfg.AsyncCommit, `
			INSERT INTO cmd_idempotency (tenant, key, request_hash, command_id, locked_until)
			VALUES ($1, $2, $3, $4, now() + $5 * interval '1 millisecond')
			ON CONFLICT (tenant, key) DO NOTHING`, tenant.String(), key, hash[:], id, k.cfg.Lease.Milliseconds())
		if err != nil {
			return commands.Claim{}, classify("claim idempotency key", err)
		}
		if tag.RowsAffected() == 1 {
			return commands.Claim{CommandID: id}, nil
		}
		c, done, err := k.existing(ctx, tenant, key, hash)
		if done || err != nil {
			return c, err
		}
		if time.Now().After(deadline) {
			return commands.Claim{}, commands.ErrKeyInProgress
		}
		if err := wait(ctx, claimPollInterval); err != nil {
			return commands.Claim{}, err
		}
	}
	return commands.Claim{}, commands.ErrKeyInProgress
}

// existing looks at a key already stored: a replay, a mismatch, a lapsed claim to take over,
// or (done false) a claim still running or just released.
func (k *Keys) existing(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (commands.Claim, bool, error) {
	var (
		stored    []byte
		commandID uuid.UUID
		status    int
		headers   []byte
		body      []byte
		lapsed    bool
	)
	err := k.pool.QueryRow(ctx, `
		SELECT request_hash, command_id, status, response_headers, response_body,
		       coalesce(locked_until < now(), true)
		FROM cmd_idempotency WHERE tenant = $1 AND key = $2`, tenant.String(), key).
		Scan(&stored, &commandID, &status, &headers, &body, &lapsed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return commands.Claim{}, false, nil // released meanwhile: insert again
	case err != nil:
		return commands.Claim{}, true, classify("read idempotency key", err)
	case !bytes.Equal(stored, hash[:]):
		return commands.Claim{}, true, &commands.KeyReusedError{Key: key}
	case status > 0:
		r := &commands.StoredResponse{Status: status, Body: body}
		if err := json.Unmarshal(headers, &r.Headers); err != nil {
			return commands.Claim{}, true, err
		}
		return commands.Claim{CommandID: commandID, Replay: r}, true, nil
	case lapsed:
		return k.takeOver(ctx, tenant, key, commandID)
	}
	return commands.Claim{}, false, nil
}

// takeOver claims a lapsed claim again, keeping its command id.
func (k *Keys) takeOver(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID) (commands.Claim, bool, error) {
	tag, err := exec(ctx, k.pool, k.cfg.AsyncCommit, `
		UPDATE cmd_idempotency SET locked_until = now() + $4 * interval '1 millisecond'
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0 AND locked_until < now()`,
		tenant.String(), key, commandID, k.cfg.Lease.Milliseconds())
	if err != nil {
		return commands.Claim{}, true, classify("take over idempotency key", err)
	}
	if tag.RowsAffected() == 0 {
		return commands.Claim{}, false, nil // another request took it over first
	}
	return commands.Claim{CommandID: commandID, Recovering: true}, true, nil
}

// Complete implements commands.IdempotencyKeys.
func (k *Keys) Complete(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, r commands.StoredResponse) error {
	headers, err := json.Marshal(r.Headers)
	if err != nil {
		return err
	}
	_, err = exec(ctx, k.pool, k.cfg.AsyncCommit, `
		UPDATE cmd_idempotency
		SET status = $4, response_headers = $5, response_body = $6, completed_at = now(), locked_until = NULL
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0`,
		tenant.String(), key, commandID, r.Status, headers, r.Body)
	return classify("complete idempotency key", err)
}

// Release implements commands.IdempotencyKeys.
func (k *Keys) Release(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, definite bool) error {
	sql := `UPDATE cmd_idempotency SET locked_until = now() - interval '1 millisecond'
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0`
	if definite {
		sql = `DELETE FROM cmd_idempotency WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0`
	}
	_, err := exec(ctx, k.pool, k.cfg.AsyncCommit, sql, tenant.String(), key, commandID)
	return classify("release idempotency key", err)
}

// Purge deletes keys older than the retention whose request is over (completed, or a lapsed
// claim), oldest first, in bounded batches, and returns how many it deleted.
func (k *Keys) Purge(ctx context.Context) (int64, error) {
	var total int64
	for range purgeMaxBatches {
		tag, err := k.pool.Exec(ctx, `
			DELETE FROM cmd_idempotency WHERE ctid = ANY (ARRAY (
				SELECT ctid FROM cmd_idempotency
				WHERE created_at < now() - $1 * interval '1 millisecond'
				  AND (status > 0 OR locked_until < now())
				ORDER BY created_at LIMIT $2))`, k.cfg.Retention.Milliseconds(), purgeBatchRows)
		if err != nil {
			return total, classify("purge idempotency keys", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatchRows {
			break
		}
	}
	return total, nil
}

// RunPurger purges every interval until ctx ends, reporting each error to onError (which may
// be nil).
func (k *Keys) RunPurger(ctx context.Context, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := k.Purge(ctx); err != nil && onError != nil && ctx.Err() == nil {
				onError(err)
			}
		}
	}
}

func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
