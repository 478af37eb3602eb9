package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dotmac/ledger/eventstore"
)

// headPageSize is how many $all events Head reads per page while it skips system events.
const headPageSize = 64

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
	var start esdb.StreamPosition = streamRevisionFor(from)
	switch {
	case dir == eventstore.Backwards && from == eventstore.EndOfStream:
		start = esdb.End{}
	case dir != eventstore.Forwards && dir != eventstore.Backwards:
		return nil, &eventstore.InvalidInputError{Field: "direction", Reason: fmt.Sprintf("unknown direction %d", dir)}
	}
	return s.readStream(ctx, fmt.Sprintf("read %q", stream), stream, clientDirection(dir), start, limit)
}

// readStream reads up to limit events of stream and decodes them. A stream with no events (or
// a deleted one) is ErrStreamNotFound.
func (s *Store) readStream(ctx context.Context, op, stream string, dir esdb.Direction, from esdb.StreamPosition, limit int) ([]eventstore.Envelope, error) {
	cl, err := s.clientFor(op)
	if err != nil {
		return nil, err
	}
	rs, err := cl.ReadStream(ctx, stream, esdb.ReadStreamOptions{Direction: dir, From: from}, uint64(limit)) //nolint:gosec // limit is validated positive
	if err != nil {
		return nil, s.fail(ctx, op, cl, err)
	}
	defer rs.Close()
	out := make([]eventstore.Envelope, 0, min(limit, 1024))
	for {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, s.fail(ctx, op, cl, err)
		}
		env, err := decodeEvent(ev.OriginalEvent())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
		out = append(out, env)
	}
}

// readTail returns the last event of stream, or nil when the stream has none.
func (s *Store) readTail(ctx context.Context, op, stream string) (*eventstore.Envelope, error) {
	got, err := s.readStream(ctx, op, stream, esdb.Backwards, esdb.End{}, 1)
	switch {
	case errors.Is(err, eventstore.ErrStreamNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case len(got) == 0:
		return nil, nil
	}
	return &got[0], nil
}

// readVersions returns the events of stream from version first on, at most count, oldest
// first.
func (s *Store) readVersions(ctx context.Context, op, stream string, first uint64, count int) ([]eventstore.Envelope, error) {
	return s.readStream(ctx, op, stream, esdb.Forwards, streamRevisionFor(first), count)
}

// readLast returns the last count events of stream up to version last, oldest first.
func (s *Store) readLast(ctx context.Context, op, stream string, last uint64, count int) ([]eventstore.Envelope, error) {
	got, err := s.readStream(ctx, op, stream, esdb.Backwards, streamRevisionFor(last), count)
	slices.Reverse(got)
	return got, err
}

// ReadAll implements eventstore.Store. KurrentDB's own events are skipped: a page that held
// only those is read past, so an empty result always means the end of $all.
func (s *Store) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	out := make([]eventstore.Envelope, 0, min(limit, 1024))
	err := s.scanAll(ctx, "read all", esdb.Forwards, after, limit+1, func(rec *esdb.RecordedEvent) (bool, error) {
		env, err := decodeEvent(rec)
		if err != nil {
			return false, err
		}
		out = append(out, env)
		return len(out) < limit, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Head implements eventstore.Store: the position of the newest event that is not KurrentDB's
// own, 0 when there is none.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var head eventstore.Position
	err := s.scanAll(ctx, "head", esdb.Backwards, 0, headPageSize, func(rec *esdb.RecordedEvent) (bool, error) {
		pos, err := toPosition(rec.Position)
		if err != nil {
			return false, fmt.Errorf("event %s in %q: %w", rec.EventID, rec.StreamID, err)
		}
		head = pos
		return false, nil
	})
	return head, err
}

// scanAll pages through $all in direction dir from after (exclusive; 0: the start, or the end
// when reading backwards), page events at a time, and calls visit with every event that is not
// KurrentDB's own until visit returns false or $all ends.
func (s *Store) scanAll(ctx context.Context, op string, dir esdb.Direction, after eventstore.Position, page int,
	visit func(*esdb.RecordedEvent) (bool, error)) error {
	from := fromPosition(after)
	var boundary *esdb.Position // events at or before it (forwards) are skipped
	if p, ok := from.(esdb.Position); ok {
		boundary = &p
	}
	if dir == esdb.Backwards {
		from, boundary = esdb.End{}, nil
	}
	for {
		n, last, more, err := s.scanPage(ctx, op, dir, from, boundary, page, visit)
		if err != nil || !more || n < page {
			return err
		}
		if boundary != nil && passed(dir, last, *boundary) {
			return fmt.Errorf("%s: invariant: a full page of $all ended at (C:%d/P:%d), not past where it started", op, last.Commit, last.Prepare)
		}
		from, boundary = last, &last
	}
}

// scanPage reads one page of $all; it returns how many events the server sent, the position
// of the last one, and whether visit wants more.
func (s *Store) scanPage(ctx context.Context, op string, dir esdb.Direction, from esdb.AllPosition, boundary *esdb.Position,
	page int, visit func(*esdb.RecordedEvent) (bool, error)) (int, esdb.Position, bool, error) {
	cl, err := s.clientFor(op)
	if err != nil {
		return 0, esdb.Position{}, false, err
	}
	rs, err := cl.ReadAll(ctx, esdb.ReadAllOptions{Direction: dir, From: from}, uint64(page)) //nolint:gosec // page is positive
	if err != nil {
		return 0, esdb.Position{}, false, s.fail(ctx, op, cl, err)
	}
	defer rs.Close()
	var last esdb.Position
	for n := 0; ; n++ {
		ev, err := rs.Recv()
		if errors.Is(err, io.EOF) {
			return n, last, true, nil
		}
		if err != nil {
			return n, last, false, s.fail(ctx, op, cl, err)
		}
		rec := ev.OriginalEvent()
		last = rec.Position
		if boundary != nil && passed(dir, rec.Position, *boundary) || isSystem(rec) {
			continue
		}
		more, err := visit(rec)
		if err != nil {
			return n, last, false, fmt.Errorf("%s: %w", op, err)
		}
		if !more {
			return n, last, false, nil
		}
	}
}

// passed reports whether p is at or behind boundary in direction dir: already seen.
func passed(dir esdb.Direction, p, boundary esdb.Position) bool {
	if dir == esdb.Backwards {
		return comparePositions(p, boundary) >= 0
	}
	return comparePositions(p, boundary) <= 0
}

func clientDirection(d eventstore.Direction) esdb.Direction {
	if d == eventstore.Backwards {
		return esdb.Backwards
	}
	return esdb.Forwards
}

func checkLimit(limit int) error {
	if limit < 1 || limit > eventstore.MaxReadLimit {
		return &eventstore.InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be between 1 and %d", limit, eventstore.MaxReadLimit)}
	}
	return nil
}
