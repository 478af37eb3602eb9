package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/eventstore"
)

var _ eventstore.KeyRecorder = (*Store)(nil)

// Limits of the keys' statements.
const (
	// maxPurgeRows bounds the keys one purge statement deletes.
	maxPurgeRows = 1000
	// maxRecordKeyRounds bounds RecordKey's insert-then-read rounds (a round fails only when
	// the key it met is purged before it reads it).
	maxRecordKeyRounds = 3
)

// keyColumns are the columns of es_append_keys scanStoredKey reads, in its order.
const keyColumns = `scope, key, request_hash, command_id, stream_id, version, position, answer, recorded_at`

const (
	// keysSQL reads the stored keys of a batch under the append lock: one primary-key probe
	// per key, as idsSQL does (see readState).
	keysSQL = `SELECT k.scope, k.key, x.request_hash, x.command_id, x.stream_id, x.version, x.position, x.answer, x.recorded_at
FROM unnest($1::text[], $2::text[]) AS k(scope, key)
CROSS JOIN LATERAL (
    SELECT request_hash, command_id, stream_id, version, position, answer, recorded_at
    FROM es_append_keys a WHERE a.scope = k.scope AND a.key = k.key
) x`
	lookupKeySQL = `SELECT ` + keyColumns + ` FROM es_append_keys WHERE scope = $1 AND key = $2`
	// recordKeySQL inserts a key alone, or gives the key its own command recorded with its
	// events the answer it lacks; anything else it leaves and returns no row.
	recordKeySQL = `INSERT INTO es_append_keys AS a (scope, key, request_hash, command_id, answer, recorded_at)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (scope, key) DO UPDATE SET answer = EXCLUDED.answer
    WHERE a.command_id = EXCLUDED.command_id AND a.request_hash = EXCLUDED.request_hash AND a.answer IS NULL
RETURNING ` + keyColumns
	purgeKeysSQL = `DELETE FROM es_append_keys WHERE ctid = ANY (ARRAY (
    SELECT ctid FROM es_append_keys WHERE recorded_at < $1 ORDER BY recorded_at LIMIT $2))`
)

// insertKeysSQL records the keys a batch planned from what it read under the lock: none of
// them was recorded then. One recorded since (by RecordKey, which does not take the lock) is a
// unique violation: runBatch reads the state again.
var insertKeysSQL = keysInsertFrom(1)

// keysInsertFrom returns the insert of a batch's keys from its arguments $n to $n+7 (those
// keyRows.args gives).
func keysInsertFrom(n int) string {
	return fmt.Sprintf(`INSERT INTO es_append_keys (scope, key, request_hash, command_id, stream_id, version, position, recorded_at)
SELECT k.*, $%[8]d::timestamptz
FROM unnest($%[1]d::text[], $%[2]d::text[], $%[3]d::bytea[], $%[4]d::uuid[], $%[5]d::text[], $%[6]d::bigint[], $%[7]d::bigint[])
    AS k(scope, key, request_hash, command_id, stream_id, version, position)`, n, n+1, n+2, n+3, n+4, n+5, n+6, n+7)
}

// keyID names a key: its scope and the key.
type keyID struct{ scope, key string }

// keyRows holds the columns of the keys a batch records, as arrays for one unnest INSERT.
type keyRows struct {
	scopes, keys, streams []string
	hashes                pgtype.FlatArray[[]byte]
	commandIDs            [][16]byte
	versions, positions   []int64
}

func (k *keyRows) add(key *eventstore.AppendKey, stream string, version uint64, position int64) {
	k.scopes = append(k.scopes, key.Scope)
	k.keys = append(k.keys, key.Key)
	k.hashes = append(k.hashes, key.Hash[:])
	k.commandIDs = append(k.commandIDs, key.CommandID)
	k.streams = append(k.streams, stream)
	k.versions = append(k.versions, int64(version)) //nolint:gosec // versions fit
	k.positions = append(k.positions, position)
}

// args are insertKeysSQL's arguments.
func (k *keyRows) args(now time.Time) []any {
	return []any{k.scopes, k.keys, k.hashes, k.commandIDs, k.streams, k.versions, k.positions, now}
}

// batchAppendKeys returns the distinct keys batch's events carry.
func batchAppendKeys(batch []*appendReq) (scopes, keys []string) {
	seen := map[keyID]bool{}
	for _, r := range batch {
		for i := range r.events {
			k := r.events[i].Key
			if k == nil || seen[keyID{k.Scope, k.Key}] {
				continue
			}
			seen[keyID{k.Scope, k.Key}] = true
			scopes, keys = append(scopes, k.Scope), append(keys, k.Key)
		}
	}
	return scopes, keys
}

func readKeys(br pgx.BatchResults, st *batchState) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		k, err := scanStoredKey(rows)
		if err != nil {
			return err
		}
		st.keys[keyID{k.Scope, k.Key}] = k
	}
	return rows.Err()
}

// keyOutcome refuses r when a key it carries is held by another command: recorded before
// (final: *KeyTakenError naming every such key), or accepted earlier in this batch (retry:
// the next batch finds it recorded, or the batch failed and the key is free). handled is
// false when r may go on.
func keyOutcome(r *appendReq, stored map[keyID]eventstore.StoredKey, inBatch map[keyID]uuid.UUID) (o outcome, handled bool) {
	var taken []eventstore.StoredKey
	var own map[keyID]uuid.UUID // the append's own keys (most appends carry none)
	for i := range r.events {
		k := r.events[i].Key
		if k == nil {
			continue
		}
		id := keyID{k.Scope, k.Key}
		if own == nil {
			own = map[keyID]uuid.UUID{}
		}
		if cmd, ok := own[id]; ok && cmd != k.CommandID {
			return outcome{final: true, err: &eventstore.InvalidInputError{Field: fmt.Sprintf("events[%d].key", i),
				Reason: "an earlier event of the append carries the same key with another command id"}}, true
		}
		own[id] = k.CommandID
		if cmd, ok := inBatch[id]; ok && cmd != k.CommandID {
			return outcome{retry: true}, true
		}
		if sk, ok := stored[id]; ok && sk.CommandID != k.CommandID {
			taken = append(taken, sk)
		}
	}
	if len(taken) == 0 {
		return outcome{}, false
	}
	return outcome{final: true, err: &eventstore.KeyTakenError{Stream: r.stream, Taken: taken}}, true
}

// addKeys adds to the plan the keys of r (accepted as res) that neither the store nor the
// batch has recorded yet, each at the event carrying it; the batch holds them from here.
func (p *batchPlan) addKeys(r *appendReq, res eventstore.AppendResult, stored map[keyID]eventstore.StoredKey, inBatch map[keyID]uuid.UUID) {
	for i := range r.events {
		k := r.events[i].Key
		if k == nil {
			continue
		}
		id := keyID{k.Scope, k.Key}
		if _, ok := inBatch[id]; ok {
			continue
		}
		inBatch[id] = k.CommandID
		if _, ok := stored[id]; ok {
			continue // recorded by this same command (keyOutcome let it through)
		}
		p.keys.add(k, r.stream, res.FirstVersion+uint64(i), int64(res.FirstPosition)+int64(i)) //nolint:gosec // small, positive
	}
}

// RecordsKeys implements eventstore.KeyRecorder: appends record their keys.
func (s *Store) RecordsKeys() bool { return true }

// LookupKey implements eventstore.KeyRecorder.
func (s *Store) LookupKey(ctx context.Context, scope, key string) (eventstore.StoredKey, bool, error) {
	k, err := scanStoredKey(s.pool.QueryRow(ctx, lookupKeySQL, scope, key))
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return eventstore.StoredKey{}, false, nil
	case err != nil:
		return eventstore.StoredKey{}, false, classify("lookup key", err)
	}
	return k, true, nil
}

// RecordKey implements eventstore.KeyRecorder: the key is inserted unless recorded already
// (given its answer when its own command recorded it without one), and otherwise the stored
// one is returned.
func (s *Store) RecordKey(ctx context.Context, k eventstore.AppendKey, answer []byte) (eventstore.StoredKey, bool, error) {
	if err := eventstore.ValidateAppendKey("key", &k); err != nil {
		return eventstore.StoredKey{}, false, err
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	for range maxRecordKeyRounds {
		stored, err := scanStoredKey(s.pool.QueryRow(ctx, recordKeySQL, k.Scope, k.Key, k.Hash[:], k.CommandID, answer, now))
		if err == nil {
			return stored, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return eventstore.StoredKey{}, false, classify("record key", err)
		}
		stored, found, err := s.LookupKey(ctx, k.Scope, k.Key)
		if err != nil || found {
			return stored, false, err
		}
	}
	return eventstore.StoredKey{}, false, &eventstore.UnavailableError{Op: "record key",
		Err: fmt.Errorf("key %q of scope %q purged between insert and read %d times", k.Key, k.Scope, maxRecordKeyRounds)}
}

// PurgeKeys implements eventstore.KeyRecorder, in statements of at most maxPurgeRows keys.
func (s *Store) PurgeKeys(ctx context.Context, before time.Time, limit int) (int64, error) {
	if limit < 1 {
		return 0, &eventstore.InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be at least 1", limit)}
	}
	var total int64
	for total < int64(limit) {
		n := min(int64(limit)-total, maxPurgeRows)
		tag, err := s.pool.Exec(ctx, purgeKeysSQL, before, n)
		if err != nil {
			return total, classify("purge keys", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < n {
			break
		}
	}
	return total, nil
}

// scanStoredKey reads one row of keyColumns.
func scanStoredKey(row pgx.Row) (eventstore.StoredKey, error) {
	var (
		k                 eventstore.StoredKey
		hash              []byte
		stream            *string
		version, position *int64
	)
	if err := row.Scan(&k.Scope, &k.Key, &hash, &k.CommandID, &stream, &version, &position, &k.Answer, &k.RecordedAt); err != nil {
		return eventstore.StoredKey{}, err
	}
	if len(hash) != len(k.Hash) {
		return eventstore.StoredKey{}, fmt.Errorf("invariant: key %q of scope %q stored with a %d-byte hash", k.Key, k.Scope, len(hash))
	}
	copy(k.Hash[:], hash)
	if stream != nil && version != nil && position != nil {
		k.Stream, k.Version, k.Position = *stream, uint64(*version), eventstore.Position(*position) //nolint:gosec // positive
	}
	k.RecordedAt = k.RecordedAt.UTC()
	return k, nil
}
