package projections_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// batchCounter is a counter that counts its Apply calls: one per live batch with events.
type batchCounter struct {
	counter
	batches atomic.Int64
}

func (c *batchCounter) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	c.batches.Add(1)
	return c.counter.Apply(ctx, tx, evs)
}

// pauses is a pause hook (projections.SetPause) that never ends a pause by itself: each pause
// hands the test a channel that ends it (or the waiters' demand does, with honorDemand).
type pauses struct {
	t           *testing.T
	started     chan chan struct{}
	honorDemand bool
}

func newPauses(t *testing.T, honorDemand bool) *pauses {
	return &pauses{t: t, started: make(chan chan struct{}), honorDemand: honorDemand}
}

func (p *pauses) pause(ctx context.Context, _ time.Duration, rise <-chan struct{}) {
	end := make(chan struct{})
	select {
	case p.started <- end:
	case <-ctx.Done():
		return
	}
	if !p.honorDemand {
		rise = nil
	}
	select {
	case <-end:
	case <-rise:
	case <-ctx.Done():
	}
}

// next returns the end of the pause the live handler enters next.
func (p *pauses) next() chan struct{} {
	p.t.Helper()
	select {
	case end := <-p.started:
		return end
	case <-time.After(30 * time.Second):
		p.t.Fatal("the live handler did not pause")
		return nil
	}
}

// appendOne appends one event (its own append) and returns its position.
func appendOne(t *testing.T, store eventstore.Store) eventstore.Position {
	t.Helper()
	res, err := store.Append(context.Background(), "s-0", eventstore.Any(),
		eventstore.EventData{ID: uuid.New(), Type: "TestEvent", SchemaVersion: 1, Data: mustJSON(testEvent{N: 1})})
	require.NoError(t, err)
	return res.LastPosition
}

func waitFor(t *testing.T, rt *projections.Runtime, pos eventstore.Position) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := rt.WaitFor(ctx, "counter", pos)
	require.NoError(t, err)
}

// TestLiveBatchesCoalesce: with a batch interval, the events appended while a live partition
// pauses after a batch (one append each, every one after the batch before committed) are
// applied together in its next batch; without one, each such append is a batch of its own. An
// event after idle is applied at once: the interval holds back only the batch after one.
func TestLiveBatchesCoalesce(t *testing.T) {
	t.Parallel()
	const stream = 10
	t.Run("interval", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		p := newPauses(t, false)
		opts := testOptions()
		opts.MinBatchInterval = time.Hour // only the hook ends a pause
		projections.SetPause(&opts, p.pause)
		c := &batchCounter{counter: counter{name: "counter", version: 1}}
		rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{c}, opts)

		waitFor(t, rt, appendOne(t, e.store)) // the first event: no pause before it
		end := p.next()                       // the partition pauses after its batch
		var last eventstore.Position
		for range stream - 1 {
			last = appendOne(t, e.store)
		}
		close(end)
		waitFor(t, rt, last)
		assert.Equal(t, int64(2), c.batches.Load(), "%d appends in 2 batches", stream)

		close(p.next()) // the pause after that batch ends with nothing appended: idle
		waitFor(t, rt, appendOne(t, e.store))
		assert.Equal(t, int64(3), c.batches.Load(), "an event after idle is applied at once")
		p.next() // and the partition pauses after it
		sameRows(t, e.pool, `SELECT stream_id, events, total FROM stream_counts`, expectedCounts, int64(last+1))
	})
	t.Run("off", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t)
		opts := testOptions()
		opts.MinBatchInterval = -1
		projections.SetPause(&opts, func(context.Context, time.Duration, <-chan struct{}) { t.Error("paused with the interval off") })
		c := &batchCounter{counter: counter{name: "counter", version: 1}}
		rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{c}, opts)
		for range stream {
			waitFor(t, rt, appendOne(t, e.store))
		}
		assert.Equal(t, int64(stream), c.batches.Load(), "one batch per append")
	})
}

// TestWaitForEndsThePause: a WaitFor asking for a position the paused live partition has not
// applied ends its pause at once (the hook would hold it forever otherwise), and the event is
// applied.
func TestWaitForEndsThePause(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := newPauses(t, true)
	opts := testOptions()
	opts.MinBatchInterval = time.Hour
	projections.SetPause(&opts, p.pause)
	c := &batchCounter{counter: counter{name: "counter", version: 1}}
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{c}, opts)

	waitFor(t, rt, appendOne(t, e.store))
	p.next() // paused, never ended by the test
	waitFor(t, rt, appendOne(t, e.store))
	assert.Equal(t, int64(2), c.batches.Load())
	p.next()
}
