package postgres

import (
	"context"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// known is what the writer knows of the feed without reading it: the head right after its
// last transaction, and the last version and hash of streams it has read or appended to since.
// It is valid only while no other writer (another process, another Store on the same schema)
// has appended since: each batch that uses it checks, under the append lock and in the
// statement that inserts, that the head is still the one known, and inserts nothing otherwise.
//
// It spares a batch its first round trip (the head, the streams' heads and the event ids,
// read under the lock: see runBatch): a batch whose streams are all known, and whose appends
// all pass their expected-version checks against them, takes the lock, inserts, notifies and
// commits in one round trip. Anything else takes the two round trips, which read the truth
// and refresh what is known: a stream not known, an append refused (it may be the retry of
// one stored already, which only the ids tell), an event id stored already (the insert's
// unique violation), an idempotency key of the batch recorded already (its insert's unique
// violation), the head moved by another writer (the insert inserted nothing). Any
// error forgets everything, as a failed commit may have committed.
//
// Where other writers append all the time (several processes taking commands), most tries
// would find the head moved and cost a round trip for nothing: after each such miss the
// writer takes the two round trips for twice as many batches as after the last one (up to
// maxKnownBackoff), and tries again at once when a batch finds no other writer appended.
//
// Only the writer goroutine touches it.
type known struct {
	valid   bool
	head    int64
	streams map[string]streamHead

	backoff int // batches a miss sends through the two round trips: doubled per miss in a row
	skip    int // batches left that take the two round trips
}

// maxKnownStreams bounds the streams remembered (about 150 bytes each): past it, arbitrary
// ones are forgotten, and their next append reads them again.
const maxKnownStreams = 20_000

// maxKnownBackoff bounds the batches a miss sends through the two round trips.
const maxKnownBackoff = 64

// forget drops everything known.
func (k *known) forget() {
	k.valid, k.head = false, 0
	clear(k.streams)
}

// missed records that another writer appended since this writer's last batch: everything
// known is forgotten, and the next batches take the two round trips.
func (k *known) missed() {
	k.forget()
	k.backoff = min(max(2*k.backoff, 1), maxKnownBackoff)
	k.skip = k.backoff
}

// observed records the head a batch's first round trip read under the lock: another writer
// appended since this one's last batch (a miss), or none did (the next batch may try).
func (k *known) observed(head int64) {
	switch {
	case !k.valid:
	case head != k.head:
		k.missed()
	default:
		k.skip = 0
	}
}

// hit records a batch written in one round trip.
func (k *known) hit() { k.backoff = 0 }

// learn records the state after a committed batch: the head, and the heads of the batch's
// streams (heads: read under the lock and advanced by the batch's accepted appends).
func (k *known) learn(head int64, heads map[string]streamHead) {
	if k.streams == nil {
		k.streams = make(map[string]streamHead, len(heads))
	}
	for stream := range k.streams {
		if len(k.streams)+len(heads) <= maxKnownStreams {
			break
		}
		delete(k.streams, stream)
	}
	k.valid, k.head = true, head
	for stream, h := range heads {
		k.streams[stream] = h
	}
}

// state is the batch state the known heads give for batch, as readState would read it under
// the lock (no event id of the batch stored), or false when a stream of batch is not known.
func (k *known) state(batch []*appendReq) (*batchState, bool) {
	if !k.valid {
		return nil, false
	}
	if k.skip > 0 {
		k.skip--
		return nil, false
	}
	st := &batchState{head: k.head, heads: make(map[string]streamHead, len(batch)), existing: map[uuid.UUID]storedRef{}}
	for _, r := range batch {
		h, ok := k.streams[r.stream]
		if !ok {
			return nil, false
		}
		st.heads[r.stream] = h
	}
	return st, true
}

// oneTrip reports whether plan, made from what is known, can be written in one round trip:
// it inserts events, and every append of it was accepted.
func oneTrip(plan *batchPlan) bool {
	if len(plan.rows.positions) == 0 {
		return false
	}
	for _, o := range plan.outcomes {
		if o.retry || o.final {
			return false
		}
	}
	return true
}

// insertIfHeadSQL is insertSQL, inserting only while the feed's head is $11: the head this
// writer knows, checked under the append lock in the insert's own snapshot.
const insertIfHeadSQL = insertSQL + `
WHERE (SELECT coalesce(max(position), 0) FROM es_events) = $11`

// insertIfHeadWithKeysSQL is insertIfHeadSQL recording the batch's idempotency keys too
// ($12 to $19: keyRows.args), under the same check of the head in the same snapshot: the keys
// are recorded exactly when the events are. A key recorded already, by another command or by
// this one (a command whose appends span batches, or whose key was recorded alone), is a
// unique violation: the batch then takes the two round trips, which read the keys.
var insertIfHeadWithKeysSQL = `WITH keys AS (
` + keysInsertFrom(12) + `
    WHERE (SELECT coalesce(max(position), 0) FROM es_events) = $11
)
` + insertIfHeadSQL

// errStale says a one-round-trip batch inserted nothing: another writer moved the head.
var errStale = errors.New("the feed's head moved since this writer's last batch")

// writeKnown writes plan in one round trip: begin, the append lock, the insert of the events
// and keys (only if the head is still head), the notification and the commit. errStale when
// the head had moved (the transaction committed nothing but a spurious notification); a
// unique violation when an event id or a key of the batch was stored already (the transaction
// is left aborted: the caller rolls it back).
func (s *Store) writeKnown(ctx context.Context, conn *pgxpool.Conn, plan *batchPlan, head int64) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockSQL, s.lockKey)
	if len(plan.keys.keys) > 0 {
		s.queueInsert(b, plan, insertIfHeadWithKeysSQL, append([]any{head}, plan.keys.args(plan.now)...)...)
	} else {
		s.queueInsert(b, plan, insertIfHeadSQL, head)
	}
	s.queueCommit(b, plan)
	inserted, err := send(ctx, conn, b, 2)
	switch {
	case err != nil:
		return err
	case inserted != int64(len(plan.rows.positions)):
		return errStale
	}
	return nil
}

// isUniqueViolation reports whether err is PostgreSQL's unique_violation.
func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}
