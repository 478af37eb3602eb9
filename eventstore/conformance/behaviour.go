package conformance

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

func testAppendAndReadStream(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	stream := streamName(t, "read")
	events := newEvents(1, 3)
	res := mustAppend(t, s, stream, eventstore.NoStream(), events...)
	assert.Equal(t, stream, res.StreamID)
	assert.Equal(t, uint64(1), res.FirstVersion)
	assert.Equal(t, uint64(3), res.LastVersion)
	assert.Less(t, res.FirstPosition, res.LastPosition)
	assert.False(t, res.Duplicate)

	got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 100)
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i, e := range got {
		assert.Equal(t, events[i].ID, e.ID)
		assert.Equal(t, stream, e.StreamID)
		assert.Equal(t, uint64(i+1), e.Version) //nolint:gosec // small
		assert.Equal(t, "TestEvent", e.Type)
		assert.Equal(t, 1, e.SchemaVersion)
		assert.JSONEq(t, string(events[i].Data), string(e.Data))
		assert.NotZero(t, e.Position)
		assert.False(t, e.RecordedAt().IsZero())
	}
	assert.Equal(t, res.FirstPosition, got[0].Position)
	assert.Equal(t, res.LastPosition, got[2].Position)

	from2, err := s.ReadStream(ctx, stream, 2, eventstore.Forwards, 1)
	require.NoError(t, err)
	require.Len(t, from2, 1)
	assert.Equal(t, uint64(2), from2[0].Version)

	past, err := s.ReadStream(ctx, stream, 9, eventstore.Forwards, 10)
	require.NoError(t, err, "reading past the end of an existing stream is empty, not an error")
	assert.Empty(t, past)

	_, err = s.ReadStream(ctx, streamName(t, "missing"), 1, eventstore.Forwards, 10)
	assert.ErrorIs(t, err, eventstore.ErrStreamNotFound)
}

func testReadStreamBackwards(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	stream := streamName(t, "back")
	mustAppend(t, s, stream, eventstore.NoStream(), newEvents(1, 5)...)
	got, err := s.ReadStream(ctx, stream, eventstore.EndOfStream, eventstore.Backwards, 2)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, []uint64{5, 4}, []uint64{got[0].Version, got[1].Version})
	got, err = s.ReadStream(ctx, stream, 3, eventstore.Backwards, 10)
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, []uint64{3, 2, 1}, []uint64{got[0].Version, got[1].Version, got[2].Version})
}

func testExpectedVersion(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	existing := streamName(t, "existing")
	mustAppend(t, s, existing, eventstore.NoStream(), newEvents(1, 2)...) // at version 2
	tests := []struct {
		name     string
		stream   string
		expected eventstore.ExpectedVersion
		ok       bool
	}{
		{"any on empty", "", eventstore.Any(), true},
		{"no stream on empty", "", eventstore.NoStream(), true},
		{"stream exists on empty", "", eventstore.StreamExists(), false},
		{"exact 1 on empty", "", eventstore.Exact(1), false},
		{"exact 0 on empty", "", eventstore.Exact(0), true},
		{"any on existing", existing, eventstore.Any(), true},
		{"no stream on existing", existing, eventstore.NoStream(), false},
		{"stream exists on existing", existing, eventstore.StreamExists(), true},
		{"exact behind", existing, eventstore.Exact(1), false},
		{"exact ahead", existing, eventstore.Exact(99), false},
	}
	for _, tc := range tests {
		stream := tc.stream
		if stream == "" {
			stream = streamName(t, "empty")
		}
		before, err := s.ReadStream(ctx, stream, eventstore.EndOfStream, eventstore.Backwards, 1)
		if err != nil {
			require.ErrorIs(t, err, eventstore.ErrStreamNotFound)
		}
		_, err = s.Append(ctx, stream, tc.expected, newEvent(0))
		if tc.ok {
			assert.NoError(t, err, tc.name)
			if stream == existing {
				mustAppend(t, s, existing, eventstore.Any(), newEvent(0)) // keep "existing" moving
			}
			continue
		}
		var wev *eventstore.WrongExpectedVersionError
		require.ErrorAs(t, err, &wev, tc.name)
		assert.ErrorIs(t, err, eventstore.ErrWrongExpectedVersion, tc.name)
		assert.Equal(t, stream, wev.Stream, tc.name)
		if len(before) > 0 {
			assert.Equal(t, before[0].Version, wev.Actual, tc.name)
		} else {
			assert.Zero(t, wev.Actual, tc.name)
		}
	}
	// An exact match on the real version succeeds.
	cur, err := s.ReadStream(ctx, existing, eventstore.EndOfStream, eventstore.Backwards, 1)
	require.NoError(t, err)
	res := mustAppend(t, s, existing, eventstore.Exact(cur[0].Version), newEvent(7))
	assert.Equal(t, cur[0].Version+1, res.LastVersion)
}

func testIdempotentReappend(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	stream := streamName(t, "idem")
	events := newEvents(1, 3)
	first := mustAppend(t, s, stream, eventstore.NoStream(), events...)
	head, err := s.Head(ctx)
	require.NoError(t, err)

	// The same ids again — even with an expected version that no longer holds — return the
	// first result and store nothing.
	again, err := s.Append(ctx, stream, eventstore.NoStream(), events...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	first.Duplicate = true
	assert.Equal(t, first, again)
	head2, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, head2)
	got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 100)
	require.NoError(t, err)
	assert.Len(t, got, 3)

	// Some ids known, some new: not a clean retry.
	mixed := append([]eventstore.EventData{events[2]}, newEvent(4))
	_, err = s.Append(ctx, stream, eventstore.Any(), mixed...)
	assert.ErrorIs(t, err, eventstore.ErrDuplicateEventID)
}

func testDuplicateIDsElsewhere(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	events := newEvents(1, 2)
	mustAppend(t, s, streamName(t, "a"), eventstore.Any(), events...)
	_, err := s.Append(ctx, streamName(t, "b"), eventstore.Any(), events...)
	assert.ErrorIs(t, err, eventstore.ErrDuplicateEventID)
}

func testReadAllFromCheckpoint(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	a, b := streamName(t, "a"), streamName(t, "b")
	e1, e2, e3 := newEvents(1, 2), newEvents(3, 1), newEvents(4, 2)
	mustAppend(t, s, a, eventstore.Any(), e1...)
	mid := mustAppend(t, s, b, eventstore.Any(), e2...)
	last := mustAppend(t, s, a, eventstore.Any(), e3...)

	all := readAllFrom(t, s, head)
	want := append(append(dataIDs(e1), dataIDs(e2)...), dataIDs(e3)...)
	assert.Equal(t, want, ids(all))
	for i := 1; i < len(all); i++ {
		assert.Less(t, all[i-1].Position, all[i].Position, "positions grow strictly")
	}
	rest := readAllFrom(t, s, mid.LastPosition)
	assert.Equal(t, dataIDs(e3), ids(rest))
	got, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, last.LastPosition, got)

	limited, err := s.ReadAll(ctx, head, 2)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(e1), ids(limited))
}

func testHashChain(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	stream := streamName(t, "hash")
	mustAppend(t, s, stream, eventstore.NoStream(), newEvents(1, 2)...)
	mustAppend(t, s, stream, eventstore.Exact(2), newEvents(3, 3)...)
	mustAppend(t, s, streamName(t, "other"), eventstore.Any(), newEvents(9, 2)...)
	got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 100)
	require.NoError(t, err)
	require.Len(t, got, 5)
	var prev []byte
	for i := range got {
		require.Len(t, got[i].Hash, eventstore.HashSize)
		want := eventstore.ChainHash(prev, &got[i])
		assert.True(t, bytes.Equal(want, got[i].Hash), "hash of version %d", got[i].Version)
		prev = got[i].Hash
	}
	// Any change to what the hash covers changes the hash.
	tampered := got[2]
	tampered.Data = []byte(`{"n": 999}`)
	assert.NotEqual(t, got[2].Hash, eventstore.ChainHash(got[1].Hash, &tampered))
}

func testMetadata(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	e := newEvent(1)
	e.Metadata = eventstore.Metadata{TenantID: "acme", Actor: "user:42", CorrelationID: "corr", CausationID: "cause",
		CommandID: "cmd", IdempotencyKey: "idem", RequestID: "req"}
	before := time.Now().Add(-time.Minute)
	stream := streamName(t, "meta")
	mustAppend(t, s, stream, eventstore.Any(), e)
	got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 1)
	require.NoError(t, err)
	m := got[0].Metadata
	recorded := m.RecordedAt
	m.RecordedAt = time.Time{}
	assert.Equal(t, e.Metadata, m)
	assert.True(t, recorded.After(before) && recorded.Before(time.Now().Add(time.Minute)), "recorded_at %v", recorded)
	assert.NotEmpty(t, got[0].RawMetadata)
}

func testInvalidInput(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	ok := func() eventstore.EventData { return newEvent(1) }
	with := func(f func(*eventstore.EventData)) []eventstore.EventData {
		e := ok()
		f(&e)
		return []eventstore.EventData{e}
	}
	dup := ok()
	tests := []struct {
		name   string
		stream string
		events []eventstore.EventData
		field  string
	}{
		{"empty stream id", "", []eventstore.EventData{ok()}, "stream id"},
		{"over-long stream id", strings.Repeat("x", eventstore.MaxStreamIDBytes+1), []eventstore.EventData{ok()}, "stream id"},
		{"system stream id", "$all", []eventstore.EventData{ok()}, "stream id"},
		{"stream id with space", "a b", []eventstore.EventData{ok()}, "stream id"},
		{"stream id not utf-8", "a\xffb", []eventstore.EventData{ok()}, "stream id"},
		{"no events", "s", nil, "events"},
		{"nil event id", "s", with(func(e *eventstore.EventData) { e.ID = uuid.Nil }), "events[0].id"},
		{"empty type", "s", with(func(e *eventstore.EventData) { e.Type = "" }), "events[0].type"},
		{"schema version 0", "s", with(func(e *eventstore.EventData) { e.SchemaVersion = 0 }), "events[0].schema_version"},
		{"invalid json", "s", with(func(e *eventstore.EventData) { e.Data = []byte(`{"n":`) }), "events[0].data"},
		{"json array", "s", with(func(e *eventstore.EventData) { e.Data = []byte(`[1]`) }), "events[0].data"},
		{"json not utf-8", "s", with(func(e *eventstore.EventData) { e.Data = []byte("{\"s\":\"\xff\"}") }), "events[0].data"},
		{"payload too large", "s", with(func(e *eventstore.EventData) {
			e.Data = []byte(`{"s":"` + strings.Repeat("x", eventstore.MaxEventDataBytes) + `"}`)
		}), "events[0].data"},
		{"same id twice", "s", []eventstore.EventData{dup, dup}, "events[1].id"},
	}
	head, err := s.Head(ctx)
	require.NoError(t, err)
	for _, tc := range tests {
		_, err := s.Append(ctx, tc.stream, eventstore.Any(), tc.events...)
		var inv *eventstore.InvalidInputError
		require.ErrorAs(t, err, &inv, tc.name)
		assert.ErrorIs(t, err, eventstore.ErrInvalidInput, tc.name)
		assert.Equal(t, tc.field, inv.Field, tc.name)
	}
	after, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, after, "invalid appends store nothing")

	for _, limit := range []int{0, -1, eventstore.MaxReadLimit + 1} {
		_, err := s.ReadAll(ctx, 0, limit)
		assert.ErrorIs(t, err, eventstore.ErrInvalidInput, "ReadAll limit %d", limit)
		_, err = s.ReadStream(ctx, "s", 1, eventstore.Forwards, limit)
		assert.ErrorIs(t, err, eventstore.ErrInvalidInput, "ReadStream limit %d", limit)
	}
	_, err = s.ReadStream(ctx, "", 1, eventstore.Forwards, 1)
	assert.ErrorIs(t, err, eventstore.ErrInvalidInput)
	assert.False(t, errors.Is(err, eventstore.ErrStreamNotFound))
}
