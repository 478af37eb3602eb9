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
