package projections

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
)

// feed is where replays read history. With the PostgreSQL store it reads es_events
// directly, by position range, several ranges at once; with another store it pages through
// ReadAll.
type feed interface {
	// read returns the events with after < position <= upto, in order, at most limit; their
	// payloads are not decoded yet.
	read(ctx context.Context, after, upto eventstore.Position, limit int) ([]Event, error)
	// dense reports whether positions are 1, 2, 3, ... without holes, so that a range of n
	// positions holds n events and ranges can be read in parallel.
	dense() bool
	// positionAt returns the last position recorded at or before t (0: none).
	positionAt(ctx context.Context, t time.Time) (eventstore.Position, error)
	// recordedAfter returns when the first event after pos was recorded; ok is false when
	// there is none.
	recordedAfter(ctx context.Context, pos eventstore.Position) (at time.Time, ok bool, err error)
}

func newFeed(store eventstore.Store) feed {
	if ps, ok := store.(*postgres.Store); ok {
		return sqlFeed{pool: ps.Pool()}
	}
	return storeFeed{store: store}
}

// sqlFeed reads es_events through the PostgreSQL store's pool.
type sqlFeed struct{ pool *pgxpool.Pool }

const sqlFeedRead = `SELECT position, event_id, stream_id, version, type, schema_version, data, metadata, hash
FROM es_events WHERE position > $1 AND position <= $2 ORDER BY position LIMIT $3`

func (f sqlFeed) read(ctx context.Context, after, upto eventstore.Position, limit int) ([]Event, error) {
	n := limit
	if upto > after && upto-after < eventstore.Position(limit) { //nolint:gosec // positive
		n = int(upto - after) //nolint:gosec // below limit
	}
	rows, err := f.pool.Query(ctx, sqlFeedRead, int64(after), int64(upto), limit) //nolint:gosec // positions fit
	if err != nil {
		return nil, fmt.Errorf("read es_events after %d: %w", after, err)
	}
	evs, err := scanEvents(rows, n)
	if err != nil {
		return nil, fmt.Errorf("read es_events after %d: %w", after, err)
	}
	return evs, nil
}

// scanEvents is postgres.ScanEnvelopes writing straight into events, with the capacity the
// range needs: a replay scans millions of rows, and every copy and re-allocation shows.
func scanEvents(rows pgx.Rows, capacity int) ([]Event, error) {
	defer rows.Close()
	out := make([]Event, 0, capacity)
	sc := postgres.NewRowScanner(rows)
	for rows.Next() {
		out = append(out, Event{})
		if err := sc.Scan(&out[len(out)-1].Envelope); err != nil {
			return nil, err
		}
	}
	return out, rows.Err()
}

func (sqlFeed) dense() bool { return true }

func (f sqlFeed) positionAt(ctx context.Context, t time.Time) (eventstore.Position, error) {
	var pos int64
	if err := f.pool.QueryRow(ctx, `SELECT coalesce(max(position), 0) FROM es_events WHERE recorded_at <= $1`, t).Scan(&pos); err != nil {
		return 0, fmt.Errorf("find the position at %s: %w", t.Format(time.RFC3339), err)
	}
	return eventstore.Position(pos), nil //nolint:gosec // positions are positive
}

func (f sqlFeed) recordedAfter(ctx context.Context, pos eventstore.Position) (time.Time, bool, error) {
	var at time.Time
	err := f.pool.QueryRow(ctx, `SELECT recorded_at FROM es_events WHERE position > $1 ORDER BY position LIMIT 1`, int64(pos)).Scan(&at) //nolint:gosec // positions fit
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("read es_events after %d: %w", pos, err)
	}
	return at, true, nil
}

// storeFeed reads through the Store port (KurrentDB and other backends).
type storeFeed struct{ store eventstore.Store }

func (f storeFeed) read(ctx context.Context, after, upto eventstore.Position, limit int) ([]Event, error) {
	envs, err := f.store.ReadAll(ctx, after, min(limit, eventstore.MaxReadLimit))
	if err != nil {
		return nil, err
	}
	out := make([]Event, 0, len(envs))
	for i := range envs {
		if envs[i].Position > upto {
			break
		}
		out = append(out, Event{Envelope: envs[i]})
	}
	return out, nil
}

func (storeFeed) dense() bool { return false }

func (storeFeed) positionAt(context.Context, time.Time) (eventstore.Position, error) {
	return 0, fmt.Errorf("%w: --as-of a date needs the PostgreSQL event store; give a position", ErrInvalidRebuild)
}

func (f storeFeed) recordedAfter(ctx context.Context, pos eventstore.Position) (time.Time, bool, error) {
	envs, err := f.store.ReadAll(ctx, pos, 1)
	if err != nil || len(envs) == 0 {
		return time.Time{}, false, err
	}
	return envs[0].RecordedAt(), true, nil
}
