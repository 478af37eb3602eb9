package conformance

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// RunRanges runs the contract of eventstore.RangeReader alone (Run includes it): for test
// doubles of a backend that serve the feed but not the whole contract.
func RunRanges(t *testing.T, newStore Factory) {
	t.Helper()
	for name, fn := range rangeTests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore)
		})
	}
}

var rangeTests = map[string]func(*testing.T, Factory){
	"ReadRange":     testReadRange,
	"PositionAt":    testPositionAt,
	"RecordedAfter": testRecordedAfter,
}

func rangeReader(t *testing.T, s eventstore.Store) eventstore.RangeReader {
	t.Helper()
	rr, ok := s.(eventstore.RangeReader)
	require.True(t, ok, "every backend reads the feed by range (eventstore.RangeReader)")
	return rr
}

// readRange reads (after, upto] into a slice grown one envelope at a time, as replays do.
func readRange(t *testing.T, rr eventstore.RangeReader, after, upto eventstore.Position, limit int) []eventstore.Envelope {
	t.Helper()
	var out []eventstore.Envelope
	n, err := rr.ReadRange(ctxFor(t, 30*time.Second), after, upto, limit, func() *eventstore.Envelope {
		out = append(out, eventstore.Envelope{})
		return &out[len(out)-1]
	})
	require.NoError(t, err)
	require.Len(t, out, n, "next is called once per event read")
	return out
}

func testReadRange(t *testing.T, newStore Factory) {
	s := newStore(t)
	rr := rangeReader(t, s)
	ctx := ctxFor(t, 30*time.Second)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	a, b := streamName(t, "range-a"), streamName(t, "range-b")
	mustAppend(t, s, a, eventstore.NoStream(), newEvents(1, 5)...)
	mustAppend(t, s, b, eventstore.NoStream(), newEvents(6, 3)...)
	all := readAllFrom(t, s, head)
	require.Len(t, all, 8)
	last := all[7].Position

	got := readRange(t, rr, head, last, 100)
	assert.Equal(t, all, got, "a range read returns exactly what ReadAll returns")
	assert.Equal(t, all[:3], readRange(t, rr, head, last, 3), "at most limit events")
	assert.Equal(t, all[2:5], readRange(t, rr, all[1].Position, all[4].Position, 100), "after is exclusive, upto inclusive")
	assert.Empty(t, readRange(t, rr, last, last+1000, 100), "nothing after the head")
	assert.Empty(t, readRange(t, rr, all[4].Position, all[1].Position, 100), "an empty range")
	if rr.DensePositions() {
		for i := range all {
			assert.Equal(t, head+eventstore.Position(i+1), all[i].Position, "dense positions") //nolint:gosec // small
		}
	}
	for _, limit := range []int{0, -1, eventstore.MaxRangeLimit + 1} {
		_, err := rr.ReadRange(ctx, head, last, limit, func() *eventstore.Envelope { return new(eventstore.Envelope) })
		var invalid *eventstore.InvalidInputError
		assert.ErrorAs(t, err, &invalid, "limit %d", limit)
	}
}

func testPositionAt(t *testing.T, newStore Factory) {
	s := newStore(t)
	rr := rangeReader(t, s)
	ctx := ctxFor(t, 30*time.Second)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	first := mustAppend(t, s, streamName(t, "at"), eventstore.NoStream(), newEvent(1))
	second := mustAppend(t, s, streamName(t, "at"), eventstore.NoStream(), newEvent(2))
	envs := readAllFrom(t, s, head)
	require.Len(t, envs, 2)
	e1, e2 := envs[0], envs[1]
	require.Equal(t, first.FirstPosition, e1.Position)
	require.Equal(t, second.FirstPosition, e2.Position)

	at, err := rr.PositionAt(ctx, e2.RecordedAt())
	require.NoError(t, err)
	assert.Equal(t, e2.Position, at, "the event recorded at t counts")
	at, err = rr.PositionAt(ctx, e2.RecordedAt().Add(time.Hour))
	require.NoError(t, err)
	assert.Equal(t, e2.Position, at, "the last event recorded before t")
	at, err = rr.PositionAt(ctx, e1.RecordedAt().Add(-time.Microsecond))
	require.NoError(t, err)
	assert.Less(t, at, e1.Position, "nothing after t")
	if e1.RecordedAt().Before(e2.RecordedAt()) {
		at, err = rr.PositionAt(ctx, e1.RecordedAt())
		require.NoError(t, err)
		assert.Equal(t, e1.Position, at)
	}
}

func testRecordedAfter(t *testing.T, newStore Factory) {
	s := newStore(t)
	rr := rangeReader(t, s)
	ctx := ctxFor(t, 30*time.Second)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	res := mustAppend(t, s, streamName(t, "after"), eventstore.NoStream(), newEvents(1, 2)...)
	envs := readAllFrom(t, s, head)
	require.Len(t, envs, 2)

	at, ok, err := rr.RecordedAfter(ctx, head)
	require.NoError(t, err)
	require.True(t, ok)
	assert.True(t, envs[0].RecordedAt().Equal(at), "when the first event after the position was recorded")
	_, ok, err = rr.RecordedAfter(ctx, res.LastPosition)
	require.NoError(t, err)
	assert.False(t, ok, "no event after the head")
}
