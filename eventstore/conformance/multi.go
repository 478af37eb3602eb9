package conformance

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// RunMultiStream runs the contract of eventstore.MultiStreamStore alone (Run includes it): for
// test doubles of a backend.
func RunMultiStream(t *testing.T, newStore Factory) {
	t.Helper()
	for name, fn := range multiTests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, newStore)
		})
	}
}

var multiTests = map[string]func(*testing.T, Factory){
	"ReadStreams":            testReadStreams,
	"ReadStreamsLimit":       testReadStreamsLimit,
	"ReadStreamsInvalid":     testReadStreamsInvalid,
	"AppendStreams":          testAppendStreams,
	"AppendStreamsConflicts": testAppendStreamsConflicts,
}

func multiStore(t *testing.T, s eventstore.Store) eventstore.MultiStreamStore {
	t.Helper()
	m, ok := s.(eventstore.MultiStreamStore)
	require.True(t, ok, "every backend reads and appends many streams per call (eventstore.MultiStreamStore)")
	return m
}

func testReadStreams(t *testing.T, newStore Factory) {
	s := newStore(t)
	m := multiStore(t, s)
	ctx := ctxFor(t, 30*time.Second)
	a, b, c, none := streamName(t, "multi-a"), streamName(t, "multi-b"), streamName(t, "multi-c"), streamName(t, "multi-none")
	ea, eb, ec := newEvents(1, 4), newEvents(10, 2), newEvents(20, 3)
	mustAppend(t, s, a, eventstore.NoStream(), ea...)
	mustAppend(t, s, c, eventstore.NoStream(), ec...)
	mustAppend(t, s, b, eventstore.NoStream(), eb...)

	got, err := m.ReadStreams(ctx, []eventstore.StreamRead{{Stream: b, From: 1}, {Stream: none, From: 1}, {Stream: a, From: 3}, {Stream: c, From: 9}}, 100)
	require.NoError(t, err)
	assert.Equal(t, append(dataIDs(eb), dataIDs(ea[2:])...), ids(got), "in the reads' order, then by version; a missing stream and one read past its end add nothing")
	for _, e := range got {
		one, err := s.ReadStream(ctx, e.StreamID, e.Version, eventstore.Forwards, 1)
		require.NoError(t, err)
		require.Len(t, one, 1)
		assert.Equal(t, one[0].Position, e.Position)
		assert.Equal(t, one[0].Hash, e.Hash)
		assert.Equal(t, one[0].Data, e.Data)
		assert.Equal(t, one[0].Metadata, e.Metadata)
	}
	got, err = m.ReadStreams(ctx, nil, 10)
	require.NoError(t, err)
	assert.Empty(t, got)
}

func testReadStreamsLimit(t *testing.T, newStore Factory) {
	s := newStore(t)
	m := multiStore(t, s)
	ctx := ctxFor(t, 30*time.Second)
	a, b := streamName(t, "limit-a"), streamName(t, "limit-b")
	ea, eb := newEvents(1, 3), newEvents(10, 3)
	mustAppend(t, s, a, eventstore.NoStream(), ea...)
	mustAppend(t, s, b, eventstore.NoStream(), eb...)
	reads := []eventstore.StreamRead{{Stream: a, From: 1}, {Stream: b, From: 1}}
	got, err := m.ReadStreams(ctx, reads, 4)
	require.NoError(t, err)
	assert.Equal(t, append(dataIDs(ea), dataIDs(eb[:1])...), ids(got), "the limit cuts the last stream returned")
	last := got[len(got)-1]
	rest, err := m.ReadStreams(ctx, []eventstore.StreamRead{{Stream: last.StreamID, From: last.Version + 1}}, 4)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(eb[1:]), ids(rest), "reading on from the last one returned")
}

func testReadStreamsInvalid(t *testing.T, newStore Factory) {
	m := multiStore(t, newStore(t))
	ctx := ctxFor(t, 30*time.Second)
	a := streamName(t, "invalid")
	for name, c := range map[string]struct {
		reads []eventstore.StreamRead
		limit int
	}{
		"zero limit":      {[]eventstore.StreamRead{{Stream: a, From: 1}}, 0},
		"limit too large": {[]eventstore.StreamRead{{Stream: a, From: 1}}, eventstore.MaxRangeLimit + 1},
		"version zero":    {[]eventstore.StreamRead{{Stream: a, From: 0}}, 10},
		"stream twice":    {[]eventstore.StreamRead{{Stream: a, From: 1}, {Stream: a, From: 2}}, 10},
		"bad stream id":   {[]eventstore.StreamRead{{Stream: "$system", From: 1}}, 10},
	} {
		_, err := m.ReadStreams(ctx, c.reads, c.limit)
		assert.ErrorIs(t, err, eventstore.ErrInvalidInput, name)
	}
}

func testAppendStreams(t *testing.T, newStore Factory) {
	s := newStore(t)
	m := multiStore(t, s)
	ctx := ctxFor(t, 30*time.Second)
	a, b := streamName(t, "mappend-a"), streamName(t, "mappend-b")
	mustAppend(t, s, a, eventstore.NoStream(), newEvents(1, 2)...)
	ea, eb := newEvents(3, 2), newEvents(10, 3)
	out := m.AppendStreams(ctx, []eventstore.StreamAppend{
		{Stream: a, Expected: eventstore.Exact(2), Events: ea},
		{Stream: b, Expected: eventstore.NoStream(), Events: eb},
	})
	require.Len(t, out, 2)
	require.NoError(t, out[0].Err)
	require.NoError(t, out[1].Err)
	assert.Equal(t, uint64(3), out[0].Result.FirstVersion)
	assert.Equal(t, uint64(4), out[0].Result.LastVersion)
	assert.Equal(t, uint64(3), out[1].Result.LastVersion)
	got, err := s.ReadStream(ctx, a, 3, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(ea), ids(got))
	assert.Equal(t, got[len(got)-1].Position, out[0].Result.LastPosition)
	got, err = s.ReadStream(ctx, b, 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(eb), ids(got))

	again := m.AppendStreams(ctx, []eventstore.StreamAppend{{Stream: b, Expected: eventstore.NoStream(), Events: eb}})
	require.NoError(t, again[0].Err, "appending the same ids again is idempotent, as with Append")
	assert.Equal(t, out[1].Result.LastVersion, again[0].Result.LastVersion)

	twice := m.AppendStreams(ctx, []eventstore.StreamAppend{
		{Stream: a, Expected: eventstore.Any(), Events: newEvents(30, 1)},
		{Stream: a, Expected: eventstore.Any(), Events: newEvents(31, 1)},
	})
	for _, o := range twice {
		assert.ErrorIs(t, o.Err, eventstore.ErrInvalidInput, "a stream twice in one call")
	}
	assert.Empty(t, m.AppendStreams(ctx, nil))
}

func testAppendStreamsConflicts(t *testing.T, newStore Factory) {
	s := newStore(t)
	m := multiStore(t, s)
	ctx := ctxFor(t, 30*time.Second)
	a, b, c := streamName(t, "mconf-a"), streamName(t, "mconf-b"), streamName(t, "mconf-c")
	mustAppend(t, s, a, eventstore.NoStream(), newEvents(1, 2)...)
	mustAppend(t, s, b, eventstore.NoStream(), newEvents(3, 1)...)
	ec := newEvents(20, 1)
	out := m.AppendStreams(ctx, []eventstore.StreamAppend{
		{Stream: a, Expected: eventstore.Exact(1), Events: newEvents(10, 1)}, // a moved on
		{Stream: b, Expected: eventstore.Exact(1), Events: []eventstore.EventData{{}}},
		{Stream: c, Expected: eventstore.NoStream(), Events: ec},
	})
	require.Len(t, out, 3)
	var wev *eventstore.WrongExpectedVersionError
	require.True(t, errors.As(out[0].Err, &wev), "got %v", out[0].Err)
	assert.Equal(t, uint64(2), wev.Actual)
	assert.ErrorIs(t, out[1].Err, eventstore.ErrInvalidInput)
	require.NoError(t, out[2].Err, "one append refused leaves the others")
	got, err := s.ReadStream(ctx, a, 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Len(t, got, 2, "nothing of the refused append is stored")
	got, err = s.ReadStream(ctx, b, 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Len(t, got, 1)
	got, err = s.ReadStream(ctx, c, 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(ec), ids(got))
}
