package kurrentdb

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/conformance"
)

func TestFakeReadAllSkipsSystemEvents(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	n.writeSystem("$settings", "$settings")
	a := events(2)
	_, err := s.Append(ctx, "a", eventstore.Any(), a...)
	require.NoError(t, err)
	for range 5 {
		n.writeSystem("$stats-127.0.0.1:2113", "$statsCollected")
	}
	n.writeSystem("$projections-x-result", "Result")
	n.writeSystem("a", "$>")
	b := events(3)
	res, err := s.Append(ctx, "b", eventstore.Any(), b...)
	require.NoError(t, err)
	n.writeSystem("$stats-127.0.0.1:2113", "$statsCollected")

	want := append(dataIDs(a), dataIDs(b)...)
	all, err := s.ReadAll(ctx, 0, 100)
	require.NoError(t, err)
	assert.Equal(t, want, ids(all))
	// Small pages: the reader pages past runs of system events, one event at a time.
	var paged []eventstore.Envelope
	for pos := eventstore.Position(0); ; {
		batch, err := s.ReadAll(ctx, pos, 1)
		require.NoError(t, err)
		if len(batch) == 0 {
			break
		}
		paged = append(paged, batch...)
		pos = batch[0].Position
	}
	assert.Equal(t, want, ids(paged))
	rest, err := s.ReadAll(ctx, all[1].Position, 2)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(b)[:2], ids(rest))

	head, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Equal(t, res.LastPosition, head, "Head skips the system events after it")
	empty := fakeStore(t, startFakeNode(t), Config{})
	head, err = empty.Head(ctx)
	require.NoError(t, err)
	assert.Zero(t, head)
}

func TestFakeForeignEvents(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	_, err := s.Append(ctx, "a", eventstore.Any(), events(1)...)
	require.NoError(t, err)
	n.writeForeign("a")
	_, err = s.ReadAll(ctx, 0, 10)
	assert.ErrorIs(t, err, ErrForeignEvent)
	_, err = s.ReadStream(ctx, "a", 1, eventstore.Forwards, 10)
	assert.ErrorIs(t, err, ErrForeignEvent)
	_, err = s.Append(ctx, "a", eventstore.Any(), events(1)...)
	assert.ErrorIs(t, err, ErrForeignEvent, "a chain is never extended past an event it cannot verify")

	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	batch, err := sub.Next(ctx)
	require.NoError(t, err, "the events before it are delivered")
	require.Len(t, batch, 1)
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, ErrForeignEvent, "then the subscription stops there and says why")
	_, err = sub.Next(ctx)
	assert.ErrorIs(t, err, ErrForeignEvent, "and keeps saying it")
	assert.Equal(t, batch[0].Position, sub.Position())
}

func TestFakeSubscribe(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{SubscriptionBatch: 2})
	ctx := testCtx(t)
	before := events(3)
	_, err := s.Append(ctx, "a", eventstore.Any(), before...)
	require.NoError(t, err)
	n.writeSystem("$stats-x", "$statsCollected")
	n.writeSystem("a", "$>") // a system type in a plain stream: passes the server filter

	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	first, err := sub.Next(ctx)
	require.NoError(t, err)
	assert.LessOrEqual(t, len(first), 2, "at most SubscriptionBatch per call")
	got := first
	for len(got) < 3 {
		batch, err := sub.Next(ctx)
		require.NoError(t, err)
		got = append(got, batch...)
	}
	assert.Equal(t, dataIDs(before), ids(got))

	live := events(2)
	done := make(chan []eventstore.Envelope)
	go func() {
		var out []eventstore.Envelope
		for len(out) < 2 {
			batch, err := sub.Next(ctx)
			if err != nil {
				break
			}
			out = append(out, batch...)
		}
		done <- out
	}()
	time.Sleep(20 * time.Millisecond)
	res, err := s.Append(ctx, "b", eventstore.Any(), live...)
	require.NoError(t, err)
	assert.Equal(t, dataIDs(live), ids(<-done))
	assert.Equal(t, res.LastPosition, sub.Position())

	// Resume after a position.
	sub2, err := s.SubscribeAll(ctx, got[0].Position)
	require.NoError(t, err)
	defer func() { _ = sub2.Close() }()
	batch, err := sub2.Next(ctx)
	require.NoError(t, err)
	assert.Equal(t, got[1].ID, batch[0].ID)

	// Close and context.
	require.NoError(t, sub.Close())
	require.NoError(t, sub.Close())
	_, err = sub.Next(ctx)
	assert.ErrorIs(t, err, eventstore.ErrSubscriptionClosed)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = sub2.Next(cctx)
	assert.ErrorIs(t, err, context.Canceled)
}

func TestFakeSubscribeBlockedNextSeesClose(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	errc := make(chan error, 1)
	go func() { _, err := sub.Next(ctx); errc <- err }()
	time.Sleep(20 * time.Millisecond)
	require.NoError(t, sub.Close())
	assert.ErrorIs(t, <-errc, eventstore.ErrSubscriptionClosed)
}

func TestFakeSubscriptionSurvivesNodeRestart(t *testing.T) {
	n := startFakeNode(t)
	s := fakeStore(t, n, Config{})
	ctx := testCtx(t)
	before := events(2)
	_, err := s.Append(ctx, "a", eventstore.Any(), before...)
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	got, err := sub.Next(ctx)
	require.NoError(t, err)
	for len(got) < 2 {
		batch, err := sub.Next(ctx)
		require.NoError(t, err)
		got = append(got, batch...)
	}

	n.stop()
	time.Sleep(300 * time.Millisecond) // the subscription drops and starts re-subscribing
	n.restart(t)
	after := events(2)
	require.Eventually(t, func() bool {
		_, err := s.Append(ctx, "a", eventstore.Any(), after...)
		return err == nil
	}, 10*time.Second, 50*time.Millisecond)
	for len(got) < 4 {
		batch, err := sub.Next(ctx)
		require.NoError(t, err)
		got = append(got, batch...)
	}
	assert.Equal(t, append(dataIDs(before), dataIDs(after)...), ids(got), "nothing lost, nothing twice")
}

// TestFakeRanges runs the range-read contract of the conformance suite against the fake node
// (the whole suite needs a real node: store_test.go). Each test gets a node of its own.
func TestFakeRanges(t *testing.T) {
	conformance.RunRanges(t, func(tb testing.TB) eventstore.Store {
		tt, ok := tb.(*testing.T)
		if !ok {
			tb.Fatal("the fake node needs a *testing.T")
		}
		return fakeStore(tt, startFakeNode(tt), Config{})
	})
}

// TestFakeMultiStream runs the multi-stream contract of the conformance suite (ReadStreams and
// AppendStreams, stream by stream on this backend) against the fake node.
func TestFakeMultiStream(t *testing.T) {
	conformance.RunMultiStream(t, func(tb testing.TB) eventstore.Store {
		tt, ok := tb.(*testing.T)
		if !ok {
			tb.Fatal("the fake node needs a *testing.T")
		}
		return fakeStore(tt, startFakeNode(tt), Config{})
	})
}
