package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

var _ eventstore.RangeReader = (*Store)(nil)

// ReadRange implements eventstore.RangeReader: one query by position range, each row scanned
// by the raw scanner straight into the caller's envelope.
func (s *Store) ReadRange(ctx context.Context, after, upto eventstore.Position, limit int, next func() *eventstore.Envelope) (int, error) {
	if limit < 1 || limit > eventstore.MaxRangeLimit {
		return 0, &eventstore.InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be between 1 and %d", limit, eventstore.MaxRangeLimit)}
	}
	rows, err := s.pool.Query(ctx, `SELECT `+envelopeColumns+` FROM es_events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`,
		int64(after), int64(upto), limit) //nolint:gosec // positions fit
	if err != nil {
		return 0, classify(fmt.Sprintf("read range after %d", after), err)
	}
	defer rows.Close()
	sc := newRowScanner(rows)
	n := 0
	for rows.Next() {
		if err := sc.Scan(next()); err != nil {
			return n, classify(fmt.Sprintf("read range after %d", after), err)
		}
		n++
	}
	return n, classify(fmt.Sprintf("read range after %d", after), rows.Err())
}

// DensePositions implements eventstore.RangeReader: positions are assigned under one lock,
// head+1 on, and an aborted append releases its numbers (see the package comment).
func (s *Store) DensePositions() bool { return true }

// PositionAt implements eventstore.RangeReader with the recorded_at column.
func (s *Store) PositionAt(ctx context.Context, t time.Time) (eventstore.Position, error) {
	var pos int64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM es_events WHERE recorded_at <= $1`, t).Scan(&pos)
	if err != nil {
		return 0, classify("find the position at "+t.Format(time.RFC3339), err)
	}
	return eventstore.Position(pos), nil //nolint:gosec // positions are positive
}

// RecordedAfter implements eventstore.RangeReader.
func (s *Store) RecordedAfter(ctx context.Context, pos eventstore.Position) (time.Time, bool, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT recorded_at FROM es_events WHERE position > $1 ORDER BY position LIMIT 1`, int64(pos)).Scan(&at) //nolint:gosec // positions fit
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, classify(fmt.Sprintf("read the event after %d", pos), err)
	}
	return at, true, nil
}
