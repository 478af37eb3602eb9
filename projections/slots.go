package projections

import (
	"context"
	"runtime"
	"sync/atomic"
	"time"
)

// DefaultLiveConcurrency is Options.LiveConcurrency's default: half the Go scheduler's
// processors (GOMAXPROCS), at least one.
func DefaultLiveConcurrency() int { return max(1, runtime.GOMAXPROCS(0)/2) }

// liveSlots bounds how many live batches of a Runtime's projections run their transaction at
// once (Options.LiveConcurrency); nil: no bound. Waiters take a slot in the order they asked
// (a channel's blocked senders are served first in, first out), so the projections of a busy
// feed take turns, each applying what its partition gathered meanwhile in one batch. A batch
// a waiter of this process needs (WaitFor: read-your-writes) does not wait for a turn.
type liveSlots struct {
	held    chan struct{}
	waiting atomic.Int64 // acquire calls blocked on a slot
}

func newLiveSlots(n int) *liveSlots {
	if n <= 0 {
		return nil
	}
	return &liveSlots{held: make(chan struct{}, n)}
}

// acquire waits for a slot, or for ctx to end, and returns how long it waited. urgent, if
// not nil, reports whether a waiter needs the batch now (read-your-writes), or else the
// channel closed when that may have changed: an urgent batch goes ahead without a slot
// (held false), whatever the bound.
func (s *liveSlots) acquire(ctx context.Context, urgent func() (<-chan struct{}, bool)) (held bool, waited time.Duration, err error) {
	if s == nil {
		return false, 0, nil
	}
	select {
	case s.held <- struct{}{}:
		return true, 0, nil
	default:
	}
	var rise <-chan struct{} // nil without urgent: never ready
	if urgent != nil {
		var now bool
		if rise, now = urgent(); now {
			return false, 0, nil
		}
	}
	start := time.Now()
	s.waiting.Add(1)
	defer s.waiting.Add(-1)
	for {
		select {
		case s.held <- struct{}{}:
			return true, time.Since(start), nil
		case <-rise:
			var now bool
			if rise, now = urgent(); now {
				return false, time.Since(start), nil
			}
		case <-ctx.Done():
			return false, time.Since(start), ctx.Err()
		}
	}
}

// release gives back a slot acquire took.
func (s *liveSlots) release() {
	if s != nil {
		<-s.held
	}
}
