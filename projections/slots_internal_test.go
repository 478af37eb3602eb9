package projections

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestLiveSlots: at most n holders at once, each slot given back lets one waiter through, a
// waiter whose context ends gives up with its error, and no slots (n <= 0) never wait.
func TestLiveSlots(t *testing.T) {
	ctx := context.Background()

	none := newLiveSlots(0)
	for range 100 {
		held, waited, err := none.acquire(ctx, nil)
		require.NoError(t, err)
		assert.False(t, held)
		assert.Zero(t, waited)
	}
	none.release()
	assert.Nil(t, newLiveSlots(-1))

	s := newLiveSlots(2)
	for range 2 {
		held, waited, err := s.acquire(ctx, nil)
		require.NoError(t, err)
		assert.True(t, held)
		assert.Zero(t, waited, "a free slot is taken without waiting")
	}

	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, waited, err := s.acquire(short, nil)
	require.ErrorIs(t, err, context.DeadlineExceeded, "both slots are held")
	// It waited until the deadline: a little less than 20 ms, the context's clock started
	// before the acquire did (a bound of 20 ms failed so on a loaded host).
	assert.Positive(t, waited, "the wait is counted")

	// Three waiters queue; each slot given back lets exactly one of them through.
	got := make(chan int, 3)
	for i := range 3 {
		go func() {
			if _, _, err := s.acquire(ctx, nil); err == nil {
				got <- i
			}
		}()
	}
	require.Eventually(t, func() bool { return s.waiting.Load() == 3 }, 5*time.Second, time.Millisecond, "three waiters")
	seen := map[int]bool{}
	for n := range 3 {
		s.release()
		select {
		case i := <-got:
			seen[i] = true
		case <-time.After(5 * time.Second):
			t.Fatalf("no waiter got the slot given back (%d given back)", n+1)
		}
		assert.Equal(t, int64(2-n), s.waiting.Load(), "one waiter through per slot given back")
	}
	assert.Len(t, seen, 3)
	assert.Len(t, s.held, 2, "two holders: the last two waiters")
	assert.Zero(t, s.waiting.Load())
}

// TestUrgentBatchesDoNotWaitForATurn: a batch a waiter needs goes ahead without a slot, at
// once when the waiter asked before, or as soon as it asks while the batch waits.
func TestUrgentBatchesDoNotWaitForATurn(t *testing.T) {
	ctx := context.Background()
	s := newLiveSlots(1)
	_, _, err := s.acquire(ctx, nil)
	require.NoError(t, err)

	var d demand
	urgent := func() (<-chan struct{}, bool) { return d.beyond(9) } // a batch of positions 10 on

	done := d.ask(12)
	held, waited, err := s.acquire(ctx, urgent)
	require.NoError(t, err)
	assert.False(t, held, "needed already: no slot taken")
	assert.Zero(t, waited)
	done()

	type result struct {
		held bool
		err  error
	}
	out := make(chan result, 1)
	go func() {
		held, _, err := s.acquire(ctx, urgent)
		out <- result{held, err}
	}()
	require.Eventually(t, func() bool { return s.waiting.Load() == 1 }, 5*time.Second, time.Millisecond)
	done = d.ask(9) // not this batch's: it keeps waiting
	defer done()
	select {
	case r := <-out:
		t.Fatalf("a waiter for position 9 let the batch from 10 go: %+v", r)
	case <-time.After(50 * time.Millisecond):
	}
	defer d.ask(10)()
	select {
	case r := <-out:
		require.NoError(t, r.err)
		assert.False(t, r.held, "went ahead without a slot")
	case <-time.After(5 * time.Second):
		t.Fatal("the batch a waiter needs still waits for a turn")
	}
	assert.Len(t, s.held, 1, "the slot is still the first holder's")
}
