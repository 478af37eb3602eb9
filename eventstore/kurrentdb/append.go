package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"

	"github.com/dotmac/ledger/eventstore"
)

// Append implements eventstore.Store. See the package documentation for how versions, the
// hash chain and retries are kept consistent.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	if err := eventstore.RefuseKeys(events); err != nil {
		return eventstore.AppendResult{}, err
	}
	for attempt := 1; ; attempt++ {
		res, err := s.appendOnce(ctx, stream, expected, events)
		var raced *racedError
		if !errors.As(err, &raced) {
			return res, err
		}
		if attempt > s.cfg.MaxConflictRetries {
			return eventstore.AppendResult{}, raced.wev
		}
	}
}

// racedError is the conflict of an append that lost the stream's end to another writer and
// may be retried. It never leaves Append.
type racedError struct {
	wev *eventstore.WrongExpectedVersionError
}

func (e *racedError) Error() string { return e.wev.Error() }

// appendOnce makes one attempt: read the tail, recognise a retry, check the caller's condition,
// send the events with the tail's exact revision, and confirm what was stored.
func (s *Store) appendOnce(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events []eventstore.EventData) (eventstore.AppendResult, error) {
	op := fmt.Sprintf("append to %q", stream)
	tail, err := s.readTail(ctx, op, stream)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	if res, done, err := s.findRetry(ctx, op, stream, expected, tail, events); done {
		return res, err
	}
	rev, err := planRevision(stream, expected, tailVersion(tail))
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	proposed, err := s.encode(stream, tail, events)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	cl, err := s.clientFor(op)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	wr, err := cl.AppendToStream(ctx, stream, esdb.AppendToStreamOptions{ExpectedRevision: rev}, proposed...)
	if isWrongExpectedVersion(err) {
		return eventstore.AppendResult{}, conflict(stream, expected, err)
	}
	if err != nil {
		return eventstore.AppendResult{}, s.fail(ctx, op, cl, err)
	}
	return s.confirm(ctx, op, stream, tailVersion(tail), events, wr)
}

// conflict turns the server's refusal into the caller's error. The stream moved after its tail
// was read: an exact condition (which held then) no longer holds; Any and StreamExists are
// retried. Without the current version in the message, the retry's read supplies it.
func conflict(stream string, expected eventstore.ExpectedVersion, err error) error {
	actual, known := actualVersion(err)
	wev := &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: actual}
	if expected.IsAny() || expected.IsStreamExists() || !known {
		return &racedError{wev: wev}
	}
	return wev
}

// encode lays out events after tail: versions, recorded-at, hash chain, user metadata.
func (s *Store) encode(stream string, tail *eventstore.Envelope, events []eventstore.EventData) ([]esdb.EventData, error) {
	now := s.cfg.Now().UTC().Truncate(time.Microsecond) // the PostgreSQL backend's resolution
	version, prev := tailVersion(tail), []byte(nil)
	if tail != nil {
		prev = tail.Hash
	}
	out := make([]esdb.EventData, len(events))
	for i := range events {
		version++
		out[i], prev = encodeEvent(stream, version, prev, &events[i], now)
	}
	if size := appendSize(out); size > s.cfg.MaxAppendBytes {
		return nil, &eventstore.InvalidInputError{Field: "events", Reason: fmt.Sprintf(
			"about %d bytes in one append, the KurrentDB server takes %d (its --max-append-size, Config.MaxAppendBytes)", size, s.cfg.MaxAppendBytes)}
	}
	return out, nil
}

// confirm builds the result of a successful append. KurrentDB answers with the position of the
// append's last event (its own tests pin that), or with none when it recognised the append as
// a retry of one already stored and wrote nothing: then the result is the stored one, read
// back, and Duplicate. The first event's position is read back when it is not the last.
func (s *Store) confirm(ctx context.Context, op, stream string, tail uint64, events []eventstore.EventData, wr *esdb.WriteResult) (eventstore.AppendResult, error) {
	n := uint64(len(events))
	res := eventstore.AppendResult{StreamID: stream, FirstVersion: tail + 1, LastVersion: tail + n}
	if got := versionOf(wr.NextExpectedVersion); got != res.LastVersion {
		return eventstore.AppendResult{}, fmt.Errorf("%s: invariant: the server put the last event at version %d, expected %d", op, got, res.LastVersion)
	}
	if wr.CommitPosition == 0 && wr.PreparePosition == 0 {
		res.Duplicate = true
		last, err := s.readBack(ctx, op, stream, res.LastVersion, events[n-1].ID)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		res.LastPosition = last.Position
	} else {
		pos, err := toPosition(esdb.Position{Commit: wr.CommitPosition, Prepare: wr.PreparePosition})
		if err != nil {
			return eventstore.AppendResult{}, fmt.Errorf("%s: invariant: the append's position: %w", op, err)
		}
		res.LastPosition = pos
	}
	res.FirstPosition = res.LastPosition
	if n > 1 {
		first, err := s.readBack(ctx, op, stream, res.FirstVersion, events[0].ID)
		if err != nil {
			return eventstore.AppendResult{}, err
		}
		res.FirstPosition = first.Position
	}
	return res, nil
}

func (s *Store) readBack(ctx context.Context, op, stream string, version uint64, id uuid.UUID) (*eventstore.Envelope, error) {
	got, err := s.readVersions(ctx, op, stream, version, 1)
	if err != nil {
		return nil, err
	}
	if len(got) != 1 || got[0].ID != id {
		return nil, fmt.Errorf("%s: invariant: event %s is not at version %d after the append", op, id, version)
	}
	return &got[0], nil
}

// findRetry recognises an append whose events are already stored, before anything is sent.
// It looks where a retry of the same append finds them: right after the caller's exact
// expected version (the check KurrentDB makes itself), and at the end of the stream (for Any
// and StreamExists). done is false when neither place holds any of the ids.
func (s *Store) findRetry(ctx context.Context, op, stream string, expected eventstore.ExpectedVersion, tail *eventstore.Envelope,
	events []eventstore.EventData) (res eventstore.AppendResult, done bool, err error) {
	if tail == nil {
		return res, false, nil
	}
	ids := idSet(events)
	if v, ok := exactVersion(expected); ok && tail.Version > v {
		got, err := s.readVersions(ctx, op, stream, v+1, len(events))
		if err != nil {
			return res, true, err
		}
		if res, done, err := matchStored(stream, got, events, ids); done {
			return res, true, err
		}
	}
	if _, ours := ids[tail.ID]; !ours {
		return res, false, nil
	}
	got, err := s.readLast(ctx, op, stream, tail.Version, len(events))
	if err != nil {
		return res, true, err
	}
	return matchStored(stream, got, events, ids)
}

// matchStored compares stored events (consecutive, oldest first) with an append's events: all
// of them, in order, is the first append's result; some of them is ErrDuplicateEventID.
func matchStored(stream string, stored []eventstore.Envelope, events []eventstore.EventData, ids map[uuid.UUID]struct{}) (eventstore.AppendResult, bool, error) {
	found := 0
	for i := range stored {
		if _, ok := ids[stored[i].ID]; ok {
			found++
		}
	}
	if found == 0 {
		return eventstore.AppendResult{}, false, nil
	}
	clean := found == len(events) && len(stored) == len(events)
	for i := 0; clean && i < len(events); i++ {
		clean = stored[i].ID == events[i].ID
	}
	if !clean {
		return eventstore.AppendResult{}, true, fmt.Errorf("append to %q: %w (%d of %d ids already stored, not as this same append)",
			stream, eventstore.ErrDuplicateEventID, found, len(events))
	}
	first, last := &stored[0], &stored[len(stored)-1]
	return eventstore.AppendResult{StreamID: stream, FirstVersion: first.Version, LastVersion: last.Version,
		FirstPosition: first.Position, LastPosition: last.Position, Duplicate: true}, true, nil
}

func idSet(events []eventstore.EventData) map[uuid.UUID]struct{} {
	ids := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		ids[events[i].ID] = struct{}{}
	}
	return ids
}

// exactVersion returns the version an exact condition names (NoStream is exact 0).
func exactVersion(e eventstore.ExpectedVersion) (uint64, bool) {
	if e.IsNoStream() {
		return 0, true
	}
	return e.ExactVersion()
}

func tailVersion(tail *eventstore.Envelope) uint64 {
	if tail == nil {
		return 0
	}
	return tail.Version
}
