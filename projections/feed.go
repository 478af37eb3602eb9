package projections

import (
	"context"
	"fmt"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// feed is where replays read history: the event store's range reads (eventstore.RangeReader),
// several ranges at once on a store whose positions are dense.
type feed struct{ rr eventstore.RangeReader }

func newFeed(store eventstore.Store) (feed, error) {
	rr, ok := store.(eventstore.RangeReader)
	if !ok {
		return feed{}, fmt.Errorf("projections: the event store (%T) does not read the feed by range (eventstore.RangeReader)", store)
	}
	return feed{rr: rr}, nil
}

// read returns the events with after < position <= upto, in order, at most limit; their
// payloads are not decoded yet. Each event is read straight into the slice it is returned in.
func (f feed) read(ctx context.Context, after, upto eventstore.Position, limit int) ([]Event, error) {
	n := limit
	if f.rr.DensePositions() && upto > after && upto-after < eventstore.Position(limit) { //nolint:gosec // positive
		n = int(upto - after) //nolint:gosec // below limit
	}
	out := make([]Event, 0, n)
	got, err := f.rr.ReadRange(ctx, after, upto, limit, func() *eventstore.Envelope {
		out = append(out, Event{})
		return &out[len(out)-1].Envelope
	})
	if err != nil {
		return nil, err
	}
	return out[:got], nil
}

// dense reports whether positions are 1, 2, 3, ... without holes, so that a range of n
// positions holds n events and ranges can be read in parallel.
func (f feed) dense() bool { return f.rr.DensePositions() }

// positionAt returns the last position recorded at or before t (0: none).
func (f feed) positionAt(ctx context.Context, t time.Time) (eventstore.Position, error) {
	return f.rr.PositionAt(ctx, t)
}

// recordedAfter returns when the first event after pos was recorded; ok is false when there
// is none.
func (f feed) recordedAfter(ctx context.Context, pos eventstore.Position) (time.Time, bool, error) {
	return f.rr.RecordedAfter(ctx, pos)
}
