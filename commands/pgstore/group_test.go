package pgstore

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// TestGroupRunsConcurrentItemsTogether: every caller gets its own output, concurrent callers
// share statements, and at most groupMaxInFlight statements run at once.
func TestGroupRunsConcurrentItemsTogether(t *testing.T) {
	t.Parallel()
	var statements, running, peak atomic.Int64
	g := newGroup(func(_ context.Context, items []int) ([]int, error) {
		statements.Add(1)
		n := running.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(2 * time.Millisecond)
		running.Add(-1)
		out := make([]int, len(items))
		for i, v := range items {
			out[i] = v * 10
		}
		return out, nil
	})
	const callers = 200
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			out, err := g.do(context.Background(), i)
			assert.NoError(t, err)
			assert.Equal(t, i*10, out)
		})
	}
	wg.Wait()
	assert.Less(t, statements.Load(), int64(callers/2), "items share statements")
	assert.LessOrEqual(t, peak.Load(), int64(groupMaxInFlight))
	assert.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return g.inFlight == 0 && len(g.pending) == 0
	}, time.Second, time.Millisecond, "every flusher is gone once the work is done")
}

func TestGroupFailsEveryItemOfAFailedStatement(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	g := newGroup(func(context.Context, []int) ([]int, error) { return nil, boom })
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := g.do(context.Background(), i)
			assert.ErrorIs(t, err, boom)
		})
	}
	wg.Wait()
}

// TestGroupItemsArrivingTogetherShareAStatement: a burst of callers (a batch of commands on
// one customer answered by the same append, then their clients' next requests) shares
// statements: once groupMaxInFlight statements run, the rest of the burst waits and goes in
// one statement. With four statements in flight, a burst of eight on a hot customer took five
// statements (about 0.6 per command, measured); with two it takes three.
func TestGroupItemsArrivingTogetherShareAStatement(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var mu sync.Mutex
	var sizes []int
	g := newGroup(func(_ context.Context, items []int) ([]int, error) {
		mu.Lock()
		sizes = append(sizes, len(items))
		mu.Unlock()
		<-release
		return make([]int, len(items)), nil
	})
	const burst = 8
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			_, err := g.do(context.Background(), i)
			assert.NoError(t, err)
		})
	}
	// Wait until every caller is either in a running statement or pending.
	assert.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		mu.Lock()
		defer mu.Unlock()
		running := 0
		for _, n := range sizes {
			running += n
		}
		return running+len(g.pending) == burst && len(sizes) == g.inFlight
	}, 5*time.Second, time.Millisecond)
	close(release)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, sizes, 3, "statements for a burst of %d: %v", burst, sizes)
}

// TestGroupItemsForLaterRideWithTheNext: an item for later starts no statement of its own: it
// goes with the next item's statement; alone, it goes after its delay.
func TestGroupItemsForLaterRideWithTheNext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var statements [][]int
	g := newGroup(func(_ context.Context, items []int) ([]int, error) {
		mu.Lock()
		statements = append(statements, append([]int(nil), items...))
		mu.Unlock()
		return items, nil
	})
	later := make(chan error)
	go func() {
		_, err := g.doLater(context.Background(), 1, time.Hour)
		later <- err
	}()
	assert.Eventually(t, func() bool {
		g.mu.Lock()
		defer g.mu.Unlock()
		return len(g.pending) == 1
	}, 5*time.Second, time.Millisecond, "the item for later waits")
	out, err := g.do(context.Background(), 2)
	assert.NoError(t, err)
	assert.Equal(t, 2, out)
	assert.NoError(t, <-later)
	mu.Lock()
	assert.Equal(t, [][]int{{1, 2}}, statements, "one statement for both")
	statements = nil
	mu.Unlock()

	out, err = g.doLater(context.Background(), 3, time.Millisecond)
	assert.NoError(t, err)
	assert.Equal(t, 3, out)
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, [][]int{{3}}, statements, "alone, after its delay")
}
