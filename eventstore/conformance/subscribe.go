package conformance

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// collect reads from sub until it has n events or ctx ends.
func collect(ctx context.Context, t *testing.T, sub eventstore.Subscription, n int) []eventstore.Envelope {
	t.Helper()
	var out []eventstore.Envelope
	for len(out) < n {
		batch, err := sub.Next(ctx)
		require.NoError(t, err, "after %d of %d events", len(out), n)
		out = append(out, batch...)
	}
	return out
}

func testSubscribeCatchUpThenLive(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 60*time.Second)
	start, err := s.Head(ctx)
	require.NoError(t, err)
	before := newEvents(1, 5)
	mustAppend(t, s, streamName(t, "sub"), eventstore.Any(), before...)

	sub, err := s.SubscribeAll(ctx, start)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	got := collect(ctx, t, sub, 5)
	assert.Equal(t, dataIDs(before), ids(got), "catch-up")

	// Live: appended after the subscriber caught up and is waiting.
	live := newEvents(6, 3)
	done := make(chan []eventstore.Envelope)
	go func() {
		var out []eventstore.Envelope
		for len(out) < 3 {
			batch, err := sub.Next(ctx)
			if err != nil {
				break
			}
			out = append(out, batch...)
		}
		done <- out
	}()
	time.Sleep(50 * time.Millisecond) // let Next block; correctness does not depend on it
	res := mustAppend(t, s, streamName(t, "sub"), eventstore.Any(), live...)
	select {
	case out := <-done:
		assert.Equal(t, dataIDs(live), ids(out), "live")
		assert.Equal(t, res.LastPosition, sub.Position())
	case <-ctx.Done():
		t.Fatal("live events never arrived")
	}
}

func testSubscribeResume(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 60*time.Second)
	first := mustAppend(t, s, streamName(t, "resume"), eventstore.Any(), newEvents(1, 3)...)
	second := newEvents(4, 2)
	mustAppend(t, s, streamName(t, "resume"), eventstore.Any(), second...)
	sub, err := s.SubscribeAll(ctx, first.LastPosition)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	got := collect(ctx, t, sub, 2)
	assert.Equal(t, dataIDs(second), ids(got))
}

func testSubscriptionClose(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 30*time.Second)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, head)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { _, err := sub.Next(ctx); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close(), "Close twice is fine")
	select {
	case err := <-errc:
		assert.ErrorIs(t, err, eventstore.ErrSubscriptionClosed)
	case <-ctx.Done():
		t.Fatal("Next did not return after Close")
	}
	cctx, cancel := context.WithCancel(ctx)
	sub2, err := s.SubscribeAll(ctx, head)
	require.NoError(t, err)
	defer func() { _ = sub2.Close() }()
	cancel()
	_, err = sub2.Next(cctx)
	assert.ErrorIs(t, err, context.Canceled)
}
