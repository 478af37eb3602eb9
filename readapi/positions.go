package readapi

import (
	"context"
	"sync"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultPositionCache is how long a projection's checkpoint, once read, answers requests
// that need no more than it (every request without min_position, and those whose position it
// already covers) without asking the runtime again.
const DefaultPositionCache = 100 * time.Millisecond

// positionCache remembers the highest checkpoint seen per projection. Checkpoints only move
// forwards (a rebuild swaps in a build that has caught up), so a remembered checkpoint is a
// true lower bound of what the read model holds: answering with it is correct, at most maxAge
// out of date in X-Ledger-Position. It spares the runtime one read per request.
type positionCache struct {
	src    Positions
	maxAge time.Duration
	mu     sync.Mutex
	seen   map[string]seenPosition
}

type seenPosition struct {
	pos eventstore.Position
	at  time.Time
}

func newPositionCache(src Positions, maxAge time.Duration) *positionCache {
	return &positionCache{src: src, maxAge: maxAge, seen: map[string]seenPosition{}}
}

// WaitFor answers from the cache when it covers pos and is fresh, else asks the runtime.
func (c *positionCache) WaitFor(ctx context.Context, projection string, pos eventstore.Position) (eventstore.Position, error) {
	if c.maxAge > 0 {
		c.mu.Lock()
		s, ok := c.seen[projection]
		c.mu.Unlock()
		if ok && pos <= s.pos && time.Since(s.at) < c.maxAge {
			return s.pos, nil
		}
	}
	reached, err := c.src.WaitFor(ctx, projection, pos)
	if err == nil && c.maxAge > 0 {
		c.mu.Lock()
		if s := c.seen[projection]; reached >= s.pos {
			c.seen[projection] = seenPosition{pos: reached, at: time.Now()}
		}
		c.mu.Unlock()
	}
	return reached, err
}
