package kurrentdb

import (
	"context"
	"fmt"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dotmac/ledger/eventstore"
)

// positionAtPageSize is how many $all events PositionAt reads per page walking backwards.
const positionAtPageSize = 256

var _ eventstore.RangeReader = (*Store)(nil)

// ReadRange implements eventstore.RangeReader by paging through $all from after; KurrentDB's
// own events are skipped.
func (s *Store) ReadRange(ctx context.Context, after, upto eventstore.Position, limit int, next func() *eventstore.Envelope) (int, error) {
	if limit < 1 || limit > eventstore.MaxRangeLimit {
		return 0, &eventstore.InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be between 1 and %d", limit, eventstore.MaxRangeLimit)}
	}
	if upto <= after {
		return 0, nil
	}
	n := 0
	err := s.scanAll(ctx, "read range", esdb.Forwards, after, min(limit+1, eventstore.MaxReadLimit), func(rec *esdb.RecordedEvent) (bool, error) {
		pos, err := toPosition(rec.Position)
		if err != nil {
			return false, fmt.Errorf("event %s in %q: %w", rec.EventID, rec.StreamID, err)
		}
		if pos > upto {
			return false, nil
		}
		env, err := decodeEvent(rec)
		if err != nil {
			return false, err
		}
		*next() = env
		n++
		return n < limit, nil
	})
	return n, err
}

// DensePositions implements eventstore.RangeReader: $all positions are byte offsets in the
// transaction log, never dense.
func (s *Store) DensePositions() bool { return false }

// PositionAt implements eventstore.RangeReader by walking $all backwards from its end to the
// first event recorded at or before t: the cost grows with how far back t is.
func (s *Store) PositionAt(ctx context.Context, t time.Time) (eventstore.Position, error) {
	var at eventstore.Position
	err := s.scanAll(ctx, "position at "+t.Format(time.RFC3339), esdb.Backwards, 0, positionAtPageSize, func(rec *esdb.RecordedEvent) (bool, error) {
		env, err := decodeEvent(rec)
		if err != nil {
			return false, err
		}
		if env.RecordedAt().After(t) {
			return true, nil
		}
		at = env.Position
		return false, nil
	})
	return at, err
}

// RecordedAfter implements eventstore.RangeReader.
func (s *Store) RecordedAfter(ctx context.Context, pos eventstore.Position) (time.Time, bool, error) {
	envs, err := s.ReadAll(ctx, pos, 1)
	if err != nil || len(envs) == 0 {
		return time.Time{}, false, err
	}
	return envs[0].RecordedAt(), true, nil
}
