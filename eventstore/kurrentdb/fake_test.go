package kurrentdb

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// These tests drive the Store through the real client against fakeNode: the wiring (requests
// sent, responses and client errors mapped) is checked without a server. Behaviour that
// depends on the real server is the conformance suite's job (store_test.go, KURRENTDB_URL).

func fakeStore(t *testing.T, n *fakeNode, cfg Config) *Store {
	t.Helper()
	s, err := Open(testCtx(t), n.url(), cfg)
	require.NoError(t, err)
	t.Cleanup(s.Close)
	return s
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func events(count int) []eventstore.EventData {
	out := make([]eventstore.EventData, count)
	for i := range out {
		out[i] = newEventData(i)
	}
	return out
}

func ids(envs []eventstore.Envelope) []uuid.UUID {
	out := make([]uuid.UUID, len(envs))
	for i := range envs {
		out[i] = envs[i].ID
	}
	return out
}

func dataIDs(evs []eventstore.EventData) []uuid.UUID {
	out := make([]uuid.UUID, len(evs))
	for i := range evs {
		out[i] = evs[i].ID
	}
	return out
}

func TestFakeAppendAndRead(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	evs := events(3)
	res, err := s.Append(ctx, "invoice-1", eventstore.NoStream(), evs...)
	require.NoError(t, err)
	assert.Equal(t, eventstore.AppendResult{StreamID: "invoice-1", FirstVersion: 1, LastVersion: 3,
		FirstPosition: res.FirstPosition, LastPosition: res.LastPosition}, res)
	assert.Less(t, res.FirstPosition, res.LastPosition)

	more := events(2)
	res2, err := s.Append(ctx, "invoice-1", eventstore.Exact(3), more...)
	require.NoError(t, err)
	assert.Equal(t, uint64(4), res2.FirstVersion)

	got, err := s.ReadStream(ctx, "invoice-1", 1, eventstore.Forwards, 100)
	require.NoError(t, err)
	require.Len(t, got, 5)
	assert.Equal(t, append(dataIDs(evs), dataIDs(more)...), ids(got))
	assert.Equal(t, res.FirstPosition, got[0].Position)
	assert.Equal(t, res.LastPosition, got[2].Position)
	assert.Equal(t, res2.LastPosition, got[4].Position)
	var prev []byte
	for i := range got {
		assert.Equal(t, uint64(i+1), got[i].Version) //nolint:gosec // small
		assert.Equal(t, eventstore.ChainHash(prev, &got[i]), got[i].Hash, "hash chain at version %d", i+1)
		prev = got[i].Hash
	}
	assert.Equal(t, []byte(evs[0].Data), []byte(got[0].Data))

	back, err := s.ReadStream(ctx, "invoice-1", eventstore.EndOfStream, eventstore.Backwards, 2)
	require.NoError(t, err)
	assert.Equal(t, []uint64{5, 4}, []uint64{back[0].Version, back[1].Version})
	back, err = s.ReadStream(ctx, "invoice-1", 2, eventstore.Backwards, 10)
	require.NoError(t, err)
	assert.Equal(t, []uint64{2, 1}, []uint64{back[0].Version, back[1].Version})
	past, err := s.ReadStream(ctx, "invoice-1", 9, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Empty(t, past)
	_, err = s.ReadStream(ctx, "missing", 1, eventstore.Forwards, 10)
	assert.ErrorIs(t, err, eventstore.ErrStreamNotFound)
}

func TestFakeExpectedVersion(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	_, err := s.Append(ctx, "s", eventstore.NoStream(), events(2)...)
	require.NoError(t, err)
	for _, exp := range []eventstore.ExpectedVersion{eventstore.NoStream(), eventstore.Exact(1), eventstore.Exact(9)} {
		_, err := s.Append(ctx, "s", exp, events(1)...)
		var wev *eventstore.WrongExpectedVersionError
		require.ErrorAs(t, err, &wev, "%s", exp)
		assert.Equal(t, uint64(2), wev.Actual, "%s", exp)
	}
	_, err = s.Append(ctx, "empty", eventstore.StreamExists(), events(1)...)
	var wev *eventstore.WrongExpectedVersionError
	require.ErrorAs(t, err, &wev)
	assert.Zero(t, wev.Actual)
	res, err := s.Append(ctx, "s", eventstore.StreamExists(), events(1)...)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.LastVersion)
}

func TestFakeIdempotentReappend(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	evs := events(3)
	first, err := s.Append(ctx, "s", eventstore.NoStream(), evs...)
	require.NoError(t, err)
	head, err := s.Head(ctx)
	require.NoError(t, err)

	// The same append again, with a condition that no longer holds: the first result.
	again, err := s.Append(ctx, "s", eventstore.NoStream(), evs...)
	require.NoError(t, err)
	first.Duplicate = true
	assert.Equal(t, first, again)
	// With Any, found at the end of the stream.
	again, err = s.Append(ctx, "s", eventstore.Any(), evs...)
	require.NoError(t, err)
	assert.Equal(t, first, again)
	head2, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, head, head2, "nothing stored")

	// An exact retry is found even after other appends.
	later := events(2)
	res, err := s.Append(ctx, "s", eventstore.Exact(3), later...)
	require.NoError(t, err)
	_, err = s.Append(ctx, "s", eventstore.Any(), events(1)...)
	require.NoError(t, err)
	again, err = s.Append(ctx, "s", eventstore.Exact(3), later...)
	require.NoError(t, err)
	res.Duplicate = true
	assert.Equal(t, res, again)

	// Some known, some new: not a clean retry.
	_, err = s.Append(ctx, "other", eventstore.NoStream(), events(1)...)
	require.NoError(t, err)
	tail := events(1)
	_, err = s.Append(ctx, "t", eventstore.Any(), tail...)
	require.NoError(t, err)
	_, err = s.Append(ctx, "t", eventstore.Any(), append(tail, events(1)...)...)
	assert.ErrorIs(t, err, eventstore.ErrDuplicateEventID)
	_, err = s.Append(ctx, "s", eventstore.Exact(3), later[0], newEventData(9))
	assert.ErrorIs(t, err, eventstore.ErrDuplicateEventID)
}

// racingClock runs fn (once) between the store's read of the stream's end and its append:
// encode stamps recorded-at right before sending.
func racingClock(fn func()) func() time.Time {
	var once atomic.Bool
	return func() time.Time {
		if once.CompareAndSwap(false, true) {
			fn()
		}
		return time.Now()
	}
}

func TestFakeRaceAnyIsRetried(t *testing.T) {
	n := startFakeNode(t)
	other := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	_, err := other.Append(ctx, "s", eventstore.NoStream(), events(1)...)
	require.NoError(t, err)
	intruder := events(1)
	s := fakeStore(t, n, Config{Now: racingClock(func() {
		_, err := other.Append(ctx, "s", eventstore.Any(), intruder...)
		assert.NoError(t, err)
	})})
	mine := events(2)
	res, err := s.Append(ctx, "s", eventstore.Any(), mine...)
	require.NoError(t, err)
	assert.Equal(t, uint64(3), res.FirstVersion, "re-read after losing the race")
	got, err := s.ReadStream(ctx, "s", 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	assert.Equal(t, append([]uuid.UUID{got[0].ID}, append(dataIDs(intruder), dataIDs(mine)...)...), ids(got))
	var prev []byte
	for i := range got {
		assert.Equal(t, eventstore.ChainHash(prev, &got[i]), got[i].Hash, "the chain holds across the race")
		prev = got[i].Hash
	}
}

func TestFakeRaceExactFails(t *testing.T) {
	n := startFakeNode(t)
	other := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	_, err := other.Append(ctx, "s", eventstore.NoStream(), events(1)...)
	require.NoError(t, err)
	s := fakeStore(t, n, Config{Now: racingClock(func() {
		_, err := other.Append(ctx, "s", eventstore.Any(), events(2)...)
		assert.NoError(t, err)
	})})
	_, err = s.Append(ctx, "s", eventstore.Exact(1), events(1)...)
	var wev *eventstore.WrongExpectedVersionError
	require.ErrorAs(t, err, &wev)
	assert.Equal(t, uint64(3), wev.Actual, "the version the server reported")
	assert.Equal(t, eventstore.Exact(1), wev.Expected)
}

func TestFakeRaceWithItselfIsDuplicate(t *testing.T) {
	// The same append lands from elsewhere between the read and the send: KurrentDB's own
	// idempotency answers, without a position.
	n := startFakeNode(t)
	other := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	evs := events(2)
	var first eventstore.AppendResult
	s := fakeStore(t, n, Config{Now: racingClock(func() {
		var err error
		first, err = other.Append(ctx, "s", eventstore.NoStream(), evs...)
		assert.NoError(t, err)
	})})
	res, err := s.Append(ctx, "s", eventstore.NoStream(), evs...)
	require.NoError(t, err)
	first.Duplicate = true
	assert.Equal(t, first, res)
}
