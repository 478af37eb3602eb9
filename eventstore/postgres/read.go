package postgres

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/db"
)

const envelopeColumns = `position, event_id, stream_id, version, type, schema_version, data, metadata, hash`

// ReadStream implements eventstore.Store.
func (s *Store) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	if err := eventstore.ValidateStreamID(stream); err != nil {
		return nil, err
	}
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if from > 1<<62 {
		return nil, &eventstore.InvalidInputError{Field: "from", Reason: fmt.Sprintf("version %d is out of range", from)}
	}
	var q string
	switch {
	case dir == eventstore.Backwards && from == eventstore.EndOfStream:
		q = `SELECT ` + envelopeColumns + ` FROM es_events WHERE stream_id = $1 AND $2::bigint >= 0 ORDER BY version DESC LIMIT $3`
	case dir == eventstore.Backwards:
		q = `SELECT ` + envelopeColumns + ` FROM es_events WHERE stream_id = $1 AND version <= $2 ORDER BY version DESC LIMIT $3`
	case dir == eventstore.Forwards:
		q = `SELECT ` + envelopeColumns + ` FROM es_events WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3`
	default:
		return nil, &eventstore.InvalidInputError{Field: "direction", Reason: fmt.Sprintf("unknown direction %d", dir)}
	}
	events, err := s.query(ctx, "read stream", limit, q, stream, int64(from), limit) //nolint:gosec // bounded above
	if err != nil || len(events) > 0 || dir == eventstore.Forwards && from > 1 {
		// Past the start of a stream, no events is an answer in itself: callers catching up
		// from a known version (the command side, every command) skip the existence query.
		return events, err
	}
	var exists bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM es_events WHERE stream_id = $1)`, stream).Scan(&exists); err != nil {
		return nil, classify("read stream", err)
	}
	if !exists {
		return nil, fmt.Errorf("read %q: %w", stream, eventstore.ErrStreamNotFound)
	}
	return events, nil
}

// ReadAll implements eventstore.Store. A read from inside the newest stretch of the feed the
// subscriptions hold in memory (tail) is answered from it, without a query: the feed
// consumers caught up on demand (the billing index, the process managers' tracker) read a
// page after their checkpoint, which is mostly a few hundred events behind the head, on every
// catch-up, and the subscriptions have just read those events. The answer is what the query
// would return: the stretch is gap-free and holds every committed event in its range (see
// the package doc), and a read past its end or behind its start queries the database.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, classify("read all", err)
	}
	if events, ok := s.tail.peek(after, limit); ok {
		return events, nil
	}
	return s.readAll(ctx, after, limit)
}

// readAllSQL is ReadAll's query.
const readAllSQL = `SELECT ` + envelopeColumns + ` FROM es_events WHERE position > $1 ORDER BY position LIMIT $2`

// readAll is ReadAll's query: the feed's events after position after, from the database.
//
// It runs on its connection's generic plan, a scan of the primary key from after, which is
// the plan PostgreSQL picks for any position on a table an ANALYZE has seen grow. Left to
// choose, PostgreSQL planned every read again (about 0.23 ms each, the feed's fills): the
// generic plan's cost assumes a third of the table past an unknown position, so it always
// looks dearer than a custom plan. The setting goes in the read's own round trip, as a
// local setting of the implicit transaction the two statements share.
// TestGenericPlansScanIndexes checks the plan.
func (s *Store) readAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error) {
	b := &pgx.Batch{}
	b.Queue(db.GenericPlansSQL)
	b.Queue(readAllSQL, int64(after), limit) //nolint:gosec // positions fit
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return nil, classify("read all", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, classify("read all", err)
	}
	out, err := ScanEnvelopes(rows, limit)
	if err != nil {
		return nil, classify("read all", err)
	}
	if err := br.Close(); err != nil {
		return nil, classify("read all", err)
	}
	return out, nil
}

func checkLimit(limit int) error {
	if limit < 1 || limit > eventstore.MaxReadLimit {
		return &eventstore.InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be between 1 and %d", limit, eventstore.MaxReadLimit)}
	}
	return nil
}

func (s *Store) query(ctx context.Context, op string, capacity int, sql string, args ...any) ([]eventstore.Envelope, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, classify(op, err)
	}
	out, err := ScanEnvelopes(rows, capacity)
	if err != nil {
		return nil, classify(op, err)
	}
	return out, nil
}

// ScanEnvelopes reads rows selected with the columns position, event_id, stream_id, version,
// type, schema_version, data, metadata, hash (in that order) into envelopes, and closes rows.
// Audit uses it to read es_events in bulk with its own queries.
func ScanEnvelopes(rows pgx.Rows, capacity int) ([]eventstore.Envelope, error) {
	defer rows.Close()
	out := make([]eventstore.Envelope, 0, min(capacity, 64)) // most reads are short: grow on demand
	sc := newRowScanner(rows)
	for rows.Next() {
		// Scanned where it stays: an envelope scanned elsewhere and appended escaped to
		// the heap, one more allocation per event.
		out = append(grow(out, capacity), eventstore.Envelope{})
		if err := sc.Scan(&out[len(out)-1]); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

// grow makes room for one more envelope: a full slice grows fourfold, up to capacity (a bulk
// read of 1,000 copies three times, not seven doublings of big structs). Growing straight to
// capacity had each live subscriber's read of a few hundred events allocate room for its
// whole page (1,000 envelopes, about 300 KB): 12 % of the server's allocations under
// commands.
func grow(out []eventstore.Envelope, capacity int) []eventstore.Envelope {
	if len(out) < cap(out) || capacity <= cap(out) {
		return out
	}
	return append(make([]eventstore.Envelope, 0, min(capacity, 4*cap(out))), out...)
}

// rowScanner reads the current row of rows selected with the envelope columns (see
// ScanEnvelopes) into an envelope. On the wire formats pgx uses for them it reads the values
// themselves: bulk reads (replays, audit verify) spent a good part of their time in the
// generic Scan, and these nine columns have fixed types. Otherwise it uses Scan.
type rowScanner struct {
	rows pgx.Rows
	raw  bool
}

// newRowScanner returns the scanner of rows.
func newRowScanner(rows pgx.Rows) rowScanner {
	return rowScanner{rows: rows, raw: rawLayout(rows.FieldDescriptions())}
}

// Scan reads the current row into e, metadata decoded.
func (s rowScanner) Scan(e *eventstore.Envelope) error {
	var err error
	if s.raw {
		err = scanRaw(s.rows.RawValues(), e)
	} else {
		err = scanGeneric(s.rows, e)
	}
	if err != nil {
		return err
	}
	md, err := eventstore.DecodeMetadata(e.RawMetadata)
	if err != nil {
		return fmt.Errorf("position %d: %w", e.Position, err)
	}
	e.Metadata = md
	return nil
}

// The envelope columns' types, and the wire formats scanRaw reads them in.
var envelopeLayout = [...]struct {
	oid    uint32
	binary bool // the binary format is required (text: either format, the bytes are the same)
}{
	{pgtype.Int8OID, true}, {pgtype.UUIDOID, true}, {pgtype.TextOID, false}, {pgtype.Int8OID, true},
	{pgtype.TextOID, false}, {pgtype.Int4OID, true}, {pgtype.JSONOID, false}, {pgtype.JSONOID, false},
	{pgtype.ByteaOID, true},
}

// rawLayout reports whether fds are the envelope columns in the formats scanRaw reads.
func rawLayout(fds []pgconn.FieldDescription) bool {
	if len(fds) != len(envelopeLayout) {
		return false
	}
	for i, fd := range fds {
		want := envelopeLayout[i]
		if fd.DataTypeOID != want.oid || (want.binary && fd.Format != pgx.BinaryFormatCode) {
			return false
		}
	}
	return true
}

// scanRaw reads one row's wire values (copied out of pgx's read buffer).
func scanRaw(v [][]byte, e *eventstore.Envelope) error {
	if len(v) != len(envelopeLayout) || len(v[0]) != 8 || len(v[1]) != 16 || len(v[3]) != 8 || len(v[5]) != 4 ||
		v[2] == nil || v[4] == nil || v[6] == nil || v[7] == nil || v[8] == nil {
		return fmt.Errorf("read events: a row does not have the envelope's layout (%d values)", len(v))
	}
	// One allocation holds the data, the metadata and the hash (each capped: an append to one
	// never writes over the next).
	buf := make([]byte, 0, len(v[6])+len(v[7])+len(v[8]))
	buf = append(append(append(buf, v[6]...), v[7]...), v[8]...)
	d, m := len(v[6]), len(v[6])+len(v[7])
	*e = eventstore.Envelope{
		Position:      eventstore.Position(binary.BigEndian.Uint64(v[0])),
		StreamID:      string(v[2]),
		Version:       binary.BigEndian.Uint64(v[3]),
		Type:          string(v[4]),
		SchemaVersion: int(int32(binary.BigEndian.Uint32(v[5]))), //nolint:gosec // stored schema versions are small and positive
		Data:          buf[:d:d],
		RawMetadata:   buf[d:m:m],
		Hash:          buf[m:],
	}
	copy(e.ID[:], v[1])
	return nil
}

// scanGeneric reads the current row with pgx's Scan, whatever the wire formats.
func scanGeneric(rows pgx.Rows, e *eventstore.Envelope) error {
	var (
		pos, version int64
		id           pgtype.UUID
		schema       int32
		data, meta   []byte // not json.RawMessage: pgx would run those through json.Unmarshal
	)
	if err := rows.Scan(&pos, &id, &e.StreamID, &version, &e.Type, &schema, &data, &meta, &e.Hash); err != nil {
		return err
	}
	e.Data, e.RawMetadata = data, meta
	e.Position, e.Version, e.SchemaVersion, e.ID = eventstore.Position(pos), uint64(version), int(schema), id.Bytes //nolint:gosec // stored values are positive
	return nil
}

var _ eventstore.StreamOrderReader = (*Store)(nil)

// ReadAllByStream implements eventstore.StreamOrderReader with the (stream_id, version) index.
func (s *Store) ReadAllByStream(ctx context.Context, afterStream string, afterVersion uint64, limit int) ([]eventstore.Envelope, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	return s.query(ctx, "read all by stream", limit,
		`SELECT `+envelopeColumns+` FROM es_events WHERE (stream_id, version) > ($1, $2) ORDER BY stream_id, version LIMIT $3`,
		afterStream, int64(afterVersion), limit) //nolint:gosec // versions fit
}

// ReadFeedMarks implements eventstore.StreamOrderReader. The recorded-at time comes from the
// metadata the hash covers, not from the indexed column.
func (s *Store) ReadFeedMarks(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.FeedMark, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT position, (metadata->>'recorded_at')::timestamptz, hash FROM es_events WHERE position > $1 ORDER BY position LIMIT $2`, int64(after), limit) //nolint:gosec // positions fit
	if err != nil {
		return nil, classify("read feed marks", err)
	}
	defer rows.Close()
	out := make([]eventstore.FeedMark, 0, limit)
	for rows.Next() {
		var m eventstore.FeedMark
		var pos int64
		if err := rows.Scan(&pos, &m.RecordedAt, &m.Hash); err != nil {
			return nil, classify("read feed marks", err)
		}
		m.Position = eventstore.Position(pos) //nolint:gosec // positive
		out = append(out, m)
	}
	return out, classify("read feed marks", rows.Err())
}
