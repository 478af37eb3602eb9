package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/db"
)

// outcome is what one append in a batch comes to.
type outcome struct {
	res   eventstore.AppendResult
	err   error
	final bool // decided under the lock whatever the commit does (conflict, duplicate)
	retry bool // repeats ids appended earlier in this same batch: try again next batch
}

type batchPlan struct {
	outcomes []outcome
	rows     insertRows
	keys     keyRows // the idempotency keys to record with the rows
	head     int64
	now      time.Time
}

// insertRows holds the columns of the events to insert, as arrays for one unnest INSERT.
// Its slices are of types pgx encodes in binary without reflection or a failed first attempt
// ([16]byte for uuid, FlatArray of []byte for bytea and json): the event ids as strings
// failed the binary encoding (an error formatted on every batch) before their text one, and
// the data and metadata as strings were copies of the envelopes' bytes.
type insertRows struct {
	positions, versions []int64
	ids                 [][16]byte
	streams, types      []string
	schemaVersions      []int32
	data, metadata      pgtype.FlatArray[[]byte]
	recordedAt          []time.Time
	hashes              pgtype.FlatArray[[]byte]
}

const (
	// lockSQL takes the append lock and makes the transaction's commit wait for its WAL to
	// reach the disk: a 2xx means the fact is durable (DESIGN.md), whatever the session's
	// synchronous_commit. A session with it off (a server or role default, or the
	// connection's options) has it turned on for the append alone; any other value (on,
	// local, remote_write, remote_apply) already waits for the local flush and is left as it
	// is, so a synchronous standby's setting is never weakened.
	lockSQL = `SELECT pg_advisory_xact_lock($1),
    CASE WHEN current_setting('synchronous_commit') = 'off' THEN set_config('synchronous_commit', 'on', true) END`
	headSQL  = `SELECT coalesce(max(position), 0) FROM es_events`
	headsSQL = `SELECT s.stream_id, e.version, e.hash
FROM unnest($1::text[]) AS s(stream_id)
CROSS JOIN LATERAL (
    SELECT version, hash FROM es_events ev
    WHERE ev.stream_id = s.stream_id ORDER BY version DESC LIMIT 1
) e`
	idsSQL = `SELECT e.event_id::text, e.stream_id, e.version, e.position
FROM unnest($1::uuid[]) AS u(event_id)
CROSS JOIN LATERAL (SELECT event_id, stream_id, version, position FROM es_events ev WHERE ev.event_id = u.event_id) e`
	insertSQL = `INSERT INTO es_events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at, hash)
SELECT * FROM unnest($1::bigint[], $2::uuid[], $3::text[], $4::bigint[], $5::text[], $6::int[], $7::json[], $8::json[], $9::timestamptz[], $10::bytea[])`
)

// runBatch appends batch in one transaction: round trip 1 begins, takes the append lock and
// reads the head, the streams' last versions and hashes, which event ids already exist and
// which of the batch's idempotency keys are recorded; the appends are then checked in order
// in memory; round trip 2 inserts every accepted event and new key, notifies subscribers and
// commits. When the writer knows all that already (known; the keys are checked in the
// statements that record them), the batch is checked first against what it knows and, if every
// append passes, written in one round trip; otherwise it takes the two. On any error the
// connection is discarded, which aborts the transaction: nothing of the batch is stored.
func (s *Store) runBatch(ctx context.Context, batch []*appendReq) (plan *batchPlan, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		s.known.forget()
		return nil, err
	}
	defer func() {
		if err != nil {
			s.known.forget() // a failed commit may have committed
			_ = conn.Hijack().Close(context.Background())
			return
		}
		conn.Release()
	}()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if st, ok := s.known.state(batch); ok {
		if plan := planBatch(st, batch, now); oneTrip(plan) {
			if err := s.beforeCommit(ctx, conn); err != nil {
				return nil, err
			}
			switch err := s.writeKnown(ctx, conn, plan, s.known.head); {
			case err == nil:
				s.known.hit()
				s.known.learn(plan.head, st.heads)
				return plan, nil
			case errors.Is(err, errStale):
				s.known.missed() // another writer appended: read the truth
			case isUniqueViolation(err):
				// An event id stored already (the retry of an append, which the ids read
				// below tell apart from a real duplicate), or a key of the batch held by
				// another command (which the keys read below name).
				if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
					return nil, err
				}
			default:
				return nil, err
			}
		}
	}
	for attempt := 1; ; attempt++ {
		plan, err = s.readAndWrite(ctx, conn, batch, now)
		if err == nil || attempt == maxWriteAttempts || !isUniqueViolation(err) {
			return plan, err
		}
		// A key of the batch recorded alone (RecordKey does not take the append lock) since
		// the state was read: read it again.
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return nil, err
		}
	}
}

// maxWriteAttempts bounds the two-round-trip writes of a batch: a write fails with a unique
// violation only when a key it records was recorded alone since its state was read.
const maxWriteAttempts = 3

// readAndWrite writes batch in the two round trips: the state read under the lock, then the
// rows planned from it.
func (s *Store) readAndWrite(ctx context.Context, conn *pgxpool.Conn, batch []*appendReq, now time.Time) (*batchPlan, error) {
	st, err := s.readState(ctx, conn, batch)
	if err != nil {
		return nil, err
	}
	s.known.observed(st.head) // another writer appended since? then any stream may have moved
	plan := planBatch(st, batch, now)
	if err := s.beforeCommit(ctx, conn); err != nil {
		return nil, err
	}
	if err := s.writeBatch(ctx, conn, plan); err != nil {
		return nil, err
	}
	s.known.learn(plan.head, st.heads)
	return plan, nil
}

// beforeCommit runs the test hook, if any, before a batch's rows are written.
func (s *Store) beforeCommit(ctx context.Context, conn *pgxpool.Conn) error {
	if s.hooks.beforeCommit == nil {
		return nil
	}
	return s.hooks.beforeCommit(ctx, conn)
}

// batchState is what round trip 1 reads under the append lock.
type batchState struct {
	head     int64
	heads    map[string]streamHead
	existing map[uuid.UUID]storedRef
	keys     map[keyID]eventstore.StoredKey // the batch's keys recorded (not read by known)
}

type streamHead struct {
	version uint64
	hash    []byte
}

type storedRef struct {
	stream   string
	version  uint64
	position int64
}

func (s *Store) readState(ctx context.Context, conn *pgxpool.Conn, batch []*appendReq) (*batchState, error) {
	streams, ids := batchKeys(batch)
	scopes, keys := batchAppendKeys(batch)
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(lockSQL, s.lockKey)
	b.Queue(headSQL)
	// Every statement of the append runs its connection's generic plan. PostgreSQL's own
	// choice planned the two lookups below on every append (about 0.23 ms of the writer's
	// time under the lock, per batch): a generic plan of an array lookup always looks dearer
	// than a custom one for the few elements it is given. Written as one index probe per
	// element (unnest, then a lateral lookup by the unique key), their generic plans are the
	// index scans a custom plan would pick, on any table an ANALYZE has seen grow (which
	// invalidates the plans); TestGenericPlansScanIndexes checks it.
	b.Queue(db.GenericPlansSQL)
	b.Queue(headsSQL, streams)
	b.Queue(idsSQL, ids)
	if len(keys) > 0 {
		b.Queue(keysSQL, scopes, keys)
	}
	br := conn.SendBatch(ctx, b)
	defer br.Close()
	st := &batchState{heads: make(map[string]streamHead, len(streams)), existing: map[uuid.UUID]storedRef{},
		keys: make(map[keyID]eventstore.StoredKey, len(keys))}
	for range 2 {
		if _, err := br.Exec(); err != nil {
			return nil, err
		}
	}
	if err := br.QueryRow().Scan(&st.head); err != nil {
		return nil, err
	}
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	if err := readHeads(br, st); err != nil {
		return nil, err
	}
	if err := readExisting(br, st); err != nil {
		return nil, err
	}
	if len(keys) > 0 {
		if err := readKeys(br, st); err != nil {
			return nil, err
		}
	}
	return st, br.Close()
}

func batchKeys(batch []*appendReq) (streams []string, ids [][16]byte) {
	seen := map[string]bool{}
	for _, r := range batch {
		if !seen[r.stream] {
			seen[r.stream] = true
			streams = append(streams, r.stream)
		}
		for i := range r.events {
			ids = append(ids, r.events[i].ID)
		}
	}
	return streams, ids
}

func readHeads(br pgx.BatchResults, st *batchState) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var stream string
		var version int64
		var hash []byte
		if err := rows.Scan(&stream, &version, &hash); err != nil {
			return err
		}
		st.heads[stream] = streamHead{version: uint64(version), hash: hash} //nolint:gosec // versions are positive
	}
	return rows.Err()
}

func readExisting(br pgx.BatchResults, st *batchState) error {
	rows, err := br.Query()
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var ref storedRef
		var version int64
		if err := rows.Scan(&id, &ref.stream, &version, &ref.position); err != nil {
			return err
		}
		ref.version = uint64(version) //nolint:gosec // versions are positive
		st.existing[uuid.MustParse(id)] = ref
	}
	return rows.Err()
}

func (s *Store) writeBatch(ctx context.Context, conn *pgxpool.Conn, plan *batchPlan) error {
	b := &pgx.Batch{}
	if len(plan.rows.positions) == 0 {
		b.Queue("ROLLBACK")
	} else {
		s.queueInsert(b, plan, insertSQL)
		if len(plan.keys.keys) > 0 {
			b.Queue(insertKeysSQL, plan.keys.args(plan.now)...)
		}
		s.queueCommit(b, plan)
	}
	_, err := send(ctx, conn, b, 0)
	return err
}

// queueInsert queues the insert of plan's rows with sql (insertSQL, or insertIfHeadSQL and the
// head it expects as extra).
func (s *Store) queueInsert(b *pgx.Batch, plan *batchPlan, sql string, extra ...any) {
	r := &plan.rows
	b.Queue(sql, append([]any{r.positions, r.ids, r.streams, r.versions, r.types, r.schemaVersions,
		r.data, r.metadata, r.recordedAt, r.hashes}, extra...)...)
}

// queueCommit queues the notification of plan's new head and the commit.
func (s *Store) queueCommit(b *pgx.Batch, plan *batchPlan) {
	b.Queue("SELECT pg_notify($1, $2)", s.channel, strconv.FormatInt(plan.head, 10))
	b.Queue("COMMIT")
}

// send runs b's statements on conn, in one round trip, and returns the rows the statement at
// index counted affected.
func send(ctx context.Context, conn *pgxpool.Conn, b *pgx.Batch, counted int) (int64, error) {
	br := conn.SendBatch(ctx, b)
	var affected int64
	for i := range b.Len() {
		tag, err := br.Exec()
		if err != nil {
			_ = br.Close()
			return 0, err
		}
		if i == counted {
			affected = tag.RowsAffected()
		}
	}
	return affected, br.Close()
}

// planBatch checks each append in order against the state read under the lock (and the
// appends accepted before it in this batch) and lays out the rows to insert.
func planBatch(st *batchState, batch []*appendReq, now time.Time) *batchPlan {
	plan := &batchPlan{outcomes: make([]outcome, len(batch)), head: st.head, now: now}
	inBatch := map[uuid.UUID]bool{}
	keysInBatch := map[keyID]uuid.UUID{} // the keys of the appends accepted, and their commands
	for i, r := range batch {
		if repeatsBatch(r, inBatch) {
			plan.outcomes[i] = outcome{retry: true}
			continue
		}
		if o, handled := duplicateOutcome(r, st.existing); handled {
			plan.outcomes[i] = o
			continue
		}
		if o, handled := keyOutcome(r, st.keys, keysInBatch); handled {
			plan.outcomes[i] = o
			continue
		}
		head := st.heads[r.stream]
		if !r.expected.Check(head.version) {
			plan.outcomes[i] = outcome{final: true, err: &eventstore.WrongExpectedVersionError{
				Stream: r.stream, Expected: r.expected, Actual: head.version}}
			continue
		}
		res := plan.accept(r, &head, now)
		plan.addKeys(r, res, st.keys, keysInBatch)
		plan.outcomes[i] = outcome{res: res}
		st.heads[r.stream] = head
		for j := range r.events {
			inBatch[r.events[j].ID] = true
		}
	}
	return plan
}

func repeatsBatch(r *appendReq, inBatch map[uuid.UUID]bool) bool {
	for i := range r.events {
		if inBatch[r.events[i].ID] {
			return true
		}
	}
	return false
}

// duplicateOutcome recognises a retry of an append already stored: every id stored, in this
// stream, in this order. Some ids stored but not that shape is ErrDuplicateEventID.
func duplicateOutcome(r *appendReq, existing map[uuid.UUID]storedRef) (outcome, bool) {
	found := 0
	for i := range r.events {
		if _, ok := existing[r.events[i].ID]; ok {
			found++
		}
	}
	if found == 0 {
		return outcome{}, false
	}
	first := existing[r.events[0].ID]
	clean := found == len(r.events)
	for i := range r.events {
		ref := existing[r.events[i].ID]
		if !clean || ref.stream != r.stream || ref.version != first.version+uint64(i) { //nolint:gosec // i is small
			return outcome{final: true, err: fmt.Errorf("append to %q: %w (%d of %d ids already stored, not as this same append)",
				r.stream, eventstore.ErrDuplicateEventID, found, len(r.events))}, true
		}
	}
	last := existing[r.events[len(r.events)-1].ID]
	return outcome{final: true, res: eventstore.AppendResult{
		StreamID: r.stream, FirstVersion: first.version, LastVersion: last.version,
		FirstPosition: eventstore.Position(first.position), LastPosition: eventstore.Position(last.position), //nolint:gosec // positive
		Duplicate: true,
	}}, true
}

// accept assigns versions, positions and hashes to r's events and adds them to the rows.
func (p *batchPlan) accept(r *appendReq, head *streamHead, now time.Time) eventstore.AppendResult {
	res := eventstore.AppendResult{StreamID: r.stream, FirstVersion: head.version + 1, FirstPosition: eventstore.Position(p.head + 1)} //nolint:gosec // positive
	for i := range r.events {
		e := &r.events[i]
		p.head++
		head.version++
		md := e.Metadata
		md.RecordedAt = now
		raw, _ := json.Marshal(&md) // a struct of strings and a time: cannot fail
		env := eventstore.Envelope{ID: e.ID, StreamID: r.stream, Version: head.version, Type: e.Type,
			SchemaVersion: e.SchemaVersion, Data: e.Data, RawMetadata: raw}
		head.hash = eventstore.ChainHash(head.hash, &env)
		p.rows.add(p.head, &env, now, head.hash)
	}
	res.LastVersion = head.version
	res.LastPosition = eventstore.Position(p.head) //nolint:gosec // positive
	return res
}

func (r *insertRows) add(position int64, e *eventstore.Envelope, at time.Time, hash []byte) {
	r.positions = append(r.positions, position)
	r.ids = append(r.ids, e.ID)
	r.streams = append(r.streams, e.StreamID)
	r.versions = append(r.versions, int64(e.Version)) //nolint:gosec // versions fit
	r.types = append(r.types, e.Type)
	r.schemaVersions = append(r.schemaVersions, int32(e.SchemaVersion)) //nolint:gosec // validated ≤ 1e6
	r.data = append(r.data, e.Data)
	r.metadata = append(r.metadata, e.RawMetadata)
	r.recordedAt = append(r.recordedAt, at)
	r.hashes = append(r.hashes, hash)
}
