package background_test

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/background"
)

func TestGateAdmitsAtMostItsSize(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2, 3} {
		g := background.NewGate(size)
		require.Equal(t, size, g.Size())
		var in, most atomic.Int32
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				slot, err := g.Enter(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				defer slot.Leave()
				for range 50 {
					n := in.Add(1)
					for {
						m := most.Load()
						if n <= m || most.CompareAndSwap(m, n) {
							break
						}
					}
					runtime.Gosched()
					in.Add(-1)
					if err := slot.Yield(context.Background()); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		require.LessOrEqual(t, most.Load(), int32(size), "size %d", size)
		require.Positive(t, most.Load())
	}
}

func TestGateSizeIsAtLeastOne(t *testing.T) {
	t.Parallel()
	require.Equal(t, 1, background.NewGate(0).Size())
	require.Equal(t, 1, background.NewGate(-3).Size())
	require.Equal(t, max(1, runtime.GOMAXPROCS(0)-1), background.Shared().Size())
}

func TestEnterGivesUpWhenTheContextEnds(t *testing.T) {
	t.Parallel()
	g := background.NewGate(1)
	held, err := g.Enter(context.Background())
	require.NoError(t, err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = g.Enter(ctx)
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, g.Do(ctx, func() error { return nil }), context.Canceled)

	// A yield with the context ended leaves the slot given back, not held twice.
	require.ErrorIs(t, held.Yield(ctx), context.Canceled)
	held.Leave() // leaving a slot not held does nothing
	again, err := g.Enter(context.Background())
	require.NoError(t, err)
	again.Leave()
}

func TestDoReturnsWhatItRan(t *testing.T) {
	t.Parallel()
	g := background.NewGate(1)
	boom := errors.New("boom")
	require.ErrorIs(t, g.Do(context.Background(), func() error { return boom }), boom)
	// The slot was given back even though fn failed.
	require.NoError(t, g.Do(context.Background(), func() error { return nil }))
}
