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
	"github.com/dotmac/ledger/internal/wait"
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

// Keys is the PostgreSQL commands.IdempotencyKeys (table cmd_idempotency). Claims and
// completions of concurrent requests are grouped into few statements (see group), so a
// command costs its request two shares of a statement rather than two transactions.
type Keys struct {
	pool      *pgxpool.Pool
	cfg       KeysConfig
	claims    *group[claimItem, bool]
	completes *group[completeItem, struct{}]
}

type claimItem struct {
	tenant, key string
	hash        [32]byte
	commandID   uuid.UUID
}

type completeItem struct {
	tenant, key string
	commandID   uuid.UUID
	r           commands.StoredResponse
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
	k := &Keys{pool: pool, cfg: cfg}
	k.claims, k.completes = newGroup(k.insertClaims), newGroup(k.storeResponses)
	return k
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
		inserted, err := k.claims.do(ctx, claimItem{tenant: tenant.String(), key: key, hash: hash, commandID: id})
		if err != nil {
			return commands.Claim{}, classify("claim idempotency key", err)
		}
		if inserted {
			return commands.Claim{CommandID: id}, nil
		}
		c, done, err := k.existing(ctx, tenant, key, hash)
		if done || err != nil {
			return c, err
		}
		if time.Now().After(deadline) {
			return commands.Claim{}, commands.ErrKeyInProgress
		}
		if err := wait.Sleep(ctx, claimPollInterval); err != nil {
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
	_, err := k.completes.do(ctx, completeItem{tenant: tenant.String(), key: key, commandID: commandID, r: r})
	return classify("complete idempotency key", err)
}

// insertClaims inserts the claims of several requests in one statement; a request's claim is
// inserted unless its key is stored already (or earlier in the same statement).
func (k *Keys) insertClaims(ctx context.Context, items []claimItem) ([]bool, error) {
	tenants, keys, hashes, ids := make([]string, len(items)), make([]string, len(items)), make([][]byte, len(items)), make([]uuid.UUID, len(items))
	for i, it := range items {
		tenants[i], keys[i], hashes[i], ids[i] = it.tenant, it.key, it.hash[:], it.commandID
	}
	var inserted []uuid.UUID
	err := queryRow(ctx, k.pool, k.cfg.AsyncCommit, []any{&inserted}, `
		WITH claimed AS (
			INSERT INTO cmd_idempotency (tenant, key, request_hash, command_id, locked_until)
			SELECT u.tenant, u.key, u.hash, u.command_id, now() + $5 * interval '1 millisecond'
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::uuid[]) AS u (tenant, key, hash, command_id)
			ON CONFLICT (tenant, key) DO NOTHING
			RETURNING command_id)
		SELECT coalesce(array_agg(command_id), '{}') FROM claimed`, tenants, keys, hashes, ids, k.cfg.Lease.Milliseconds())
	if err != nil {
		return nil, err
	}
	won := make(map[uuid.UUID]bool, len(inserted))
	for _, id := range inserted {
		won[id] = true
	}
	out := make([]bool, len(items))
	for i, it := range items {
		out[i] = won[it.commandID]
	}
	return out, nil
}

// storeResponses completes several claims in one statement.
func (k *Keys) storeResponses(ctx context.Context, items []completeItem) ([]struct{}, error) {
	n := len(items)
	tenants, keys, ids := make([]string, n), make([]string, n), make([]uuid.UUID, n)
	statuses, headers, bodies := make([]int32, n), make([]string, n), make([][]byte, n)
	for i, it := range items {
		h, err := json.Marshal(it.r.Headers)
		if err != nil {
			return nil, err
		}
		tenants[i], keys[i], ids[i] = it.tenant, it.key, it.commandID
		statuses[i], headers[i], bodies[i] = int32(it.r.Status), string(h), it.r.Body //nolint:gosec // HTTP statuses fit
	}
	_, err := exec(ctx, k.pool, k.cfg.AsyncCommit, `
		UPDATE cmd_idempotency c
		SET status = u.status, response_headers = u.headers::jsonb, response_body = u.body, completed_at = now(), locked_until = NULL
		FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::bytea[]) AS u (tenant, key, command_id, status, headers, body)
		WHERE c.tenant = u.tenant AND c.key = u.key AND c.command_id = u.command_id AND c.status = 0`,
		tenants, keys, ids, statuses, headers, bodies)
	return make([]struct{}, n), err
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
