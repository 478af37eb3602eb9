package pgstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/pgerr"
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
	// releaseFirstRetry and releaseMaxRetry bound the pauses of the releaser between attempts
	// to write kept releases while the database does not answer (doubling from the first).
	releaseFirstRetry = 100 * time.Millisecond
	releaseMaxRetry   = 5 * time.Second
	// releaseTimeout bounds one write of a kept release.
	releaseTimeout = 5 * time.Second
	// completionDelay bounds how long a completion waits for a claim's statement to ride
	// with (group.doLater): under load one comes within a millisecond; alone, the answer is
	// stored this much later, and a retry arriving meanwhile waits for it (claimPollInterval).
	completionDelay = 20 * time.Millisecond
)

// KeysConfig tunes Keys. Zero values take the defaults.
type KeysConfig struct {
	Options
	Lease     time.Duration
	Wait      time.Duration
	Retention time.Duration
}

// Keys is the PostgreSQL commands.IdempotencyKeys (table cmd_idempotency). Claims and
// completions of concurrent requests are grouped (see group): the claims waiting at a moment
// are one statement, the completions another, and both go in one round trip and one
// transaction, so a command costs its request shares of two statements of one transaction
// rather than two transactions of its own.
//
// Keys remembers the lease (locked_until) it gave each of its claims, and every later write to
// a claim (complete, release) applies only while the row still carries that lease: a claim
// another request took over is never touched. A release an outage keeps it from writing is
// kept in memory: RunReleaser writes it once the database answers, and a retry of the same
// request in this process takes the key over at once (one retry only), so that a retry after
// a 503 need not wait for the lease to run out. The command id stays the same, so the command
// runs at most once.
type Keys struct {
	pool   *pgxpool.Pool
	cfg    KeysConfig
	writes *group[keyWrite, claimWon]
	leases *leases
	legacy legacyKeys
}

// claimWon is the outcome of inserting one claim: whether it was inserted, and its lease.
type claimWon struct {
	won   bool
	lease time.Time
}

type claimItem struct {
	tenant, key string
	hash        [32]byte
	commandID   uuid.UUID
}

type completeItem struct {
	tenant, key string
	commandID   uuid.UUID
	lease       time.Time // zero: unknown (any lease)
	r           commands.StoredResponse
}

// keyWrite is one item of the grouped writes: a claim to insert, or (claim nil) a completion.
type keyWrite struct {
	claim    *claimItem
	complete *completeItem
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
	k := &Keys{pool: pool, cfg: cfg, leases: newLeases()}
	k.writes = newGroup(k.write)
	return k
}

// Retention returns how long keys are kept.
func (k *Keys) Retention() time.Duration { return k.cfg.Retention }

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
		inserted, err := k.writes.do(ctx, keyWrite{claim: &claimItem{tenant: tenant.String(), key: key, hash: hash, commandID: id}})
		if err != nil {
			return commands.Claim{}, classify("claim idempotency key", err)
		}
		if inserted.won {
			k.leases.hold(claimRef{tenant.String(), key, id}, inserted.lease)
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

// storedKey is a row of cmd_idempotency as a request with the key finds it.
type storedKey struct {
	commandID uuid.UUID
	replay    *commands.StoredResponse // completed
	lapsed    bool                     // a claim whose lease ran out without an answer
}

// read reads the key's row: false when there is none, *KeyReusedError when it was claimed
// for another request.
func (k *Keys) read(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (storedKey, bool, error) {
	var (
		row     storedKey
		stored  []byte
		status  int
		headers []byte
		body    []byte
	)
	err := k.pool.QueryRow(ctx, `
		SELECT request_hash, command_id, status, response_headers, response_body,
		       coalesce(locked_until < now(), true)
		FROM cmd_idempotency WHERE tenant = $1 AND key = $2`, tenant.String(), key).
		Scan(&stored, &row.commandID, &status, &headers, &body, &row.lapsed)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return storedKey{}, false, nil
	case err != nil:
		return storedKey{}, false, classify("read idempotency key", err)
	case !bytes.Equal(stored, hash[:]):
		return storedKey{}, false, &commands.KeyReusedError{Key: key}
	case status > 0:
		row.replay = &commands.StoredResponse{Status: status, Body: body}
		if err := json.Unmarshal(headers, &row.replay.Headers); err != nil {
			return storedKey{}, false, err
		}
	}
	return row, true, nil
}

// existing looks at a key already stored: a replay, a mismatch, a lapsed claim to take over,
// or (done false) a claim still running or just released.
func (k *Keys) existing(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (commands.Claim, bool, error) {
	row, found, err := k.read(ctx, tenant, key, hash)
	switch {
	case err != nil:
		return commands.Claim{}, true, err
	case !found:
		return commands.Claim{}, false, nil // released meanwhile: insert again
	case row.replay != nil:
		return commands.Claim{CommandID: row.commandID, Replay: row.replay}, true, nil
	case row.lapsed:
		return k.takeOver(ctx, claimRef{tenant.String(), key, row.commandID}, time.Time{})
	}
	if kept, ok := k.leases.take(tenant.String(), key); ok && kept.ref.commandID == row.commandID {
		// This process's own claim, whose release an outage kept: the retry takes it over now.
		c, done, err := k.takeOver(ctx, kept.ref, kept.lease)
		if err != nil {
			k.leases.keep(kept) // still down: the releaser or the next retry tries again
		}
		return c, done, err
	}
	return commands.Claim{}, false, nil
}

// Previous is what a server whose event store records the keys with the events (see
// commands.Meta.Key) asks before it runs a request: whether the key was claimed here before it
// was upgraded. found is false once the table holds no key at all (the purge empties it a
// retention after the last claim): from then on it asks nothing of the database. A completed
// key replays its answer; a lapsed claim runs again with its command id, recovering; a claim
// still running is ErrKeyInProgress; another request under the key is *KeyReusedError.
func (k *Keys) Previous(ctx context.Context, tenant domain.TenantID, key string, hash [32]byte) (commands.Claim, bool, error) {
	if !k.legacy.any(ctx, k.pool) {
		return commands.Claim{}, false, nil
	}
	row, found, err := k.read(ctx, tenant, key, hash)
	switch {
	case err != nil || !found:
		return commands.Claim{}, false, err
	case row.replay != nil:
		return commands.Claim{CommandID: row.commandID, Replay: row.replay}, true, nil
	case row.lapsed:
		return commands.Claim{CommandID: row.commandID, Recovering: true}, true, nil
	}
	return commands.Claim{}, false, commands.ErrKeyInProgress
}

// takeOver claims ref again, keeping its command id: a lapsed claim (lease zero), or the claim
// still carrying lease (a claim of this process whose release was kept).
func (k *Keys) takeOver(ctx context.Context, ref claimRef, lease time.Time) (commands.Claim, bool, error) {
	var next time.Time
	err := queryRow(ctx, k.pool, settings{async: k.cfg.AsyncCommit}, []any{&next}, `
		UPDATE cmd_idempotency SET locked_until = now() + $4 * interval '1 millisecond'
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0
		  AND CASE WHEN $5::timestamptz IS NULL THEN locked_until < now() ELSE locked_until = $5 END
		RETURNING locked_until`,
		ref.tenant, ref.key, ref.commandID, k.cfg.Lease.Milliseconds(), leaseArg(lease))
	if errors.Is(err, pgx.ErrNoRows) {
		return commands.Claim{}, false, nil // another request took it over first
	}
	if err != nil {
		return commands.Claim{}, true, classify("take over idempotency key", err)
	}
	k.leases.hold(ref, next)
	return commands.Claim{CommandID: ref.commandID, Recovering: true}, true, nil
}

// leaseArg is a lease as a query argument: NULL when unknown.
func leaseArg(lease time.Time) pgtype.Timestamptz {
	return pgtype.Timestamptz{Time: lease, Valid: !lease.IsZero()}
}

// Complete implements commands.IdempotencyKeys.
func (k *Keys) Complete(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, r commands.StoredResponse) error {
	lease := k.leases.drop(claimRef{tenant.String(), key, commandID})
	_, err := k.writes.doLater(ctx, keyWrite{complete: &completeItem{tenant: tenant.String(), key: key, commandID: commandID, lease: lease, r: r}}, completionDelay)
	return classify("complete idempotency key", err)
}

// write runs grouped claims and completions in one batch, which PostgreSQL runs as one
// implicit transaction: the settings, then the claims (if any) in one statement, then the
// completions (if any) in another. A completion never touches a claim of the same batch (its
// request claimed its key in an earlier batch). An error fails every item of the batch: it
// is an outage or a bug, not something one item's data causes.
func (k *Keys) write(ctx context.Context, items []keyWrite) ([]claimWon, error) {
	var (
		claims    []claimItem
		completes []completeItem
	)
	for _, it := range items {
		if it.claim != nil {
			claims = append(claims, *it.claim)
		} else {
			completes = append(completes, *it.complete)
		}
	}
	b := &pgx.Batch{}
	b.Queue(settings{async: k.cfg.AsyncCommit, generic: true}.statement())
	if len(claims) > 0 {
		queueClaims(b, claims, k.cfg.Lease)
	}
	if len(completes) > 0 {
		queueResponses(b, completes)
	}
	br := k.pool.SendBatch(ctx, b)
	won, err := readWrites(br, claims, len(completes) > 0)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	out := make([]claimWon, len(items))
	for i, it := range items {
		if it.claim != nil {
			lease, ok := won[it.claim.commandID]
			out[i] = claimWon{won: ok, lease: lease}
		}
	}
	return out, nil
}

// readWrites reads the results of write's batch: the settings, the claims' (the lease of
// each claim inserted, by command id), the completions'.
func readWrites(br pgx.BatchResults, claims []claimItem, completes bool) (map[uuid.UUID]time.Time, error) {
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	var won map[uuid.UUID]time.Time
	if len(claims) > 0 {
		var inserted [][16]byte
		var leases []time.Time
		if err := br.QueryRow().Scan(&inserted, &leases); err != nil {
			return nil, err
		}
		if len(leases) != len(inserted) {
			return nil, fmt.Errorf("invariant: a claim returned %d command ids but %d leases", len(inserted), len(leases))
		}
		won = make(map[uuid.UUID]time.Time, len(inserted))
		for i, id := range inserted {
			won[id] = leases[i]
		}
	}
	if completes {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	return won, nil
}

// queueClaims queues the statement inserting claims; a request's claim is inserted unless its
// key is stored already (or earlier in the same statement). The statement returns the command
// ids and leases of the claims inserted.
func queueClaims(b *pgx.Batch, claims []claimItem, lease time.Duration) {
	n := len(claims)
	// Slices of types pgx encodes and decodes without reflection (uuid.UUID and [][]byte it
	// does not): FlatArray and [16]byte.
	tenants, keys, hashes, ids := make([]string, n), make([]string, n), make(pgtype.FlatArray[[]byte], n), make([][16]byte, n)
	for i, it := range claims {
		tenants[i], keys[i], hashes[i], ids[i] = it.tenant, it.key, it.hash[:], it.commandID
	}
	b.Queue(`
		WITH claimed AS (
			INSERT INTO cmd_idempotency (tenant, key, request_hash, command_id, locked_until)
			SELECT u.tenant, u.key, u.hash, u.command_id, now() + $5 * interval '1 millisecond'
			FROM unnest($1::text[], $2::text[], $3::bytea[], $4::uuid[]) AS u (tenant, key, hash, command_id)
			ON CONFLICT (tenant, key) DO NOTHING
			RETURNING command_id, locked_until)
		SELECT coalesce(array_agg(command_id), '{}'), coalesce(array_agg(locked_until), '{}') FROM claimed`,
		tenants, keys, hashes, ids, lease.Milliseconds())
}

// queueResponses queues the statement completing claims with their stored responses.
func queueResponses(b *pgx.Batch, completes []completeItem) {
	n := len(completes)
	// Slices of types pgx encodes without reflection (see queueClaims).
	tenants, keys, ids, leases := make([]string, n), make([]string, n), make([][16]byte, n), make(pgtype.FlatArray[pgtype.Timestamptz], n)
	statuses, headers, bodies := make([]int32, n), make([]string, n), make(pgtype.FlatArray[[]byte], n)
	var buf []byte
	for i, it := range completes {
		start := len(buf)
		buf = appendHeaders(buf, it.r.Headers)
		tenants[i], keys[i], ids[i], leases[i] = it.tenant, it.key, it.commandID, leaseArg(it.lease)
		statuses[i], headers[i], bodies[i] = int32(it.r.Status), string(buf[start:]), it.r.Body //nolint:gosec // HTTP statuses fit
	}
	b.Queue(`
		UPDATE cmd_idempotency c
		SET status = u.status, response_headers = u.headers::jsonb, response_body = u.body, completed_at = now(), locked_until = NULL
		FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::bytea[], $7::timestamptz[])
		     AS u (tenant, key, command_id, status, headers, body, lease)
		WHERE c.tenant = u.tenant AND c.key = u.key AND c.command_id = u.command_id AND c.status = 0
		  AND (u.lease IS NULL OR c.locked_until = u.lease)`,
		tenants, keys, ids, statuses, headers, bodies, leases)
}

// Release implements commands.IdempotencyKeys. A release the database cannot take now (an
// outage) is kept and written later (see Keys); the error is returned all the same.
func (k *Keys) Release(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, definite bool) error {
	ref := claimRef{tenant.String(), key, commandID}
	r := keptRelease{ref: ref, lease: k.leases.drop(ref), definite: definite}
	err := k.release(ctx, r)
	// Kept after any but a permanent error: whether it was written or not, writing it again
	// is harmless (the first write changed the lease the second one needs).
	if err != nil && pgerr.Of(err) != pgerr.Permanent && !r.lease.IsZero() {
		k.leases.keep(r)
	}
	return err
}

// release writes r: it applies only while the claim still carries r's lease (when known).
func (k *Keys) release(ctx context.Context, r keptRelease) error {
	sql := `UPDATE cmd_idempotency SET locked_until = now() - interval '1 millisecond'
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0 AND ($4::timestamptz IS NULL OR locked_until = $4)`
	if r.definite {
		sql = `DELETE FROM cmd_idempotency
		WHERE tenant = $1 AND key = $2 AND command_id = $3 AND status = 0 AND ($4::timestamptz IS NULL OR locked_until = $4)`
	}
	_, err := exec(ctx, k.pool, settings{async: k.cfg.AsyncCommit}, sql, r.ref.tenant, r.ref.key, r.ref.commandID, leaseArg(r.lease))
	return classify("release idempotency key", err)
}

// Kept returns how many releases wait for the database to answer.
func (k *Keys) Kept() int { return k.leases.keptCount() }

// WriteKept writes the releases an outage kept, dropping those whose lease ran out (their
// claims lapsed by themselves), and returns the first error (the rest stay kept).
func (k *Keys) WriteKept(ctx context.Context) error {
	now := time.Now()
	k.leases.pruneHeld(now)
	for _, tk := range k.leases.keptKeys() {
		r, ok := k.leases.take(tk.tenant, tk.key)
		if !ok || r.lease.Before(now) {
			continue // a retry took it, or the claim lapsed
		}
		wctx, cancel := context.WithTimeout(ctx, releaseTimeout)
		err := k.release(wctx, r)
		cancel()
		if err != nil {
			k.leases.keep(r)
			return err
		}
	}
	return nil
}

// RunReleaser writes kept releases until ctx ends: as soon as one is kept, then, while the
// database does not answer, again after 0.1 s, doubling to 5 s (a release is kept at most
// until its lease runs out). Each failed attempt is reported to onError (which may be nil).
func (k *Keys) RunReleaser(ctx context.Context, onError func(error)) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-k.leases.wakeup:
		}
		for pause := releaseFirstRetry; k.Kept() > 0; pause = min(2*pause, releaseMaxRetry) {
			err := k.WriteKept(ctx)
			if err == nil {
				break
			}
			if onError != nil && ctx.Err() == nil {
				onError(err)
			}
			if wait.Sleep(ctx, pause) != nil {
				return
			}
		}
	}
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

// legacyCheckInterval is how often Previous looks again whether cmd_idempotency holds keys.
const legacyCheckInterval = time.Minute

// legacyKeys remembers whether cmd_idempotency held any key when last looked at. Once it held
// none it is never looked at again: a server recording keys with the events writes none.
type legacyKeys struct {
	none    atomic.Bool // the table was empty: the fast path of every request from then on
	mu      sync.Mutex
	checked time.Time
	held    bool
}

// any reports whether the table held a key at the last look (made at most once a
// legacyCheckInterval, so requests never queue behind it during an outage); a failed look
// counts as yes, so a key is never missed.
func (l *legacyKeys) any(ctx context.Context, pool *pgxpool.Pool) bool {
	if l.none.Load() {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.checked.IsZero() && time.Since(l.checked) < legacyCheckInterval {
		return l.held
	}
	var held bool
	if err := pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cmd_idempotency)`).Scan(&held); err != nil {
		held = true // until the next look: requests meanwhile look their key up
	}
	l.checked, l.held = time.Now(), held
	l.none.Store(!held)
	return held
}
