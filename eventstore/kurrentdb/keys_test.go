package kurrentdb

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// TestFakeAppendWithKeyRefused: KurrentDB does not record idempotency keys with appends, so
// an append carrying one is refused as invalid input (alone or in AppendStreams), and nothing
// of it reaches the node.
func TestFakeAppendWithKeyRefused(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	_, isRecorder := any(s).(eventstore.KeyRecorder)
	assert.False(t, isRecorder, "KurrentDB records no keys")
	evs := events(2)
	evs[1].Key = &eventstore.AppendKey{Scope: "acme", Key: "k-1", CommandID: uuid.Must(uuid.NewV7())}

	_, err := s.Append(ctx, "s", eventstore.NoStream(), evs...)
	var invalid *eventstore.InvalidInputError
	require.ErrorAs(t, err, &invalid)
	require.ErrorIs(t, err, eventstore.ErrInvalidInput)
	assert.Equal(t, "events[1].key", invalid.Field)

	out := s.AppendStreams(ctx, []eventstore.StreamAppend{
		{Stream: "t", Expected: eventstore.NoStream(), Events: events(1)},
		{Stream: "s", Expected: eventstore.NoStream(), Events: evs},
	})
	require.NoError(t, out[0].Err)
	require.ErrorIs(t, out[1].Err, eventstore.ErrInvalidInput)

	head, err := s.Head(ctx)
	require.NoError(t, err)
	res, err := s.Append(ctx, "s", eventstore.NoStream(), events(1)...)
	require.NoError(t, err, "stream s was never written")
	assert.Equal(t, uint64(1), res.LastVersion)
	assert.Greater(t, res.LastPosition, head)
}
