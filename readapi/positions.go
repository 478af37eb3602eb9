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

// positionCache remembers the highest checkpoint seen per projection and tenant. Checkpoints
// only move forwards (a rebuild swaps in a build that has caught up), so a remembered checkpoint
// is a true lower bound of what the read model holds for the tenant: answering with it is
// correct, at most maxAge out of date in X-Ledger-Position. A tenant stall is recorded above the
// checkpoint of its time, so a checkpoint remembered before it still holds. It spares the
// runtime one read per request. Only answers without an error are remembered, per tenant, so a
// stalled tenant's 503 never answers another tenant, nor another's 200 the stalled one for
// longer than maxAge.
type positionCache struct {
	src    Positions
	maxAge time.Duration
	mu     sync.Mutex
	seen   map[cacheKey]seenPosition
}

type cacheKey struct{ projection, tenant string }

// maxCachedPositions bounds the cache; when full it starts again empty.
const maxCachedPositions = 10_000

type seenPosition struct {
	pos eventstore.Position
	at  time.Time
}

func newPositionCache(src Positions, maxAge time.Duration) *positionCache {
	return &positionCache{src: src, maxAge: maxAge, seen: map[cacheKey]seenPosition{}}
}

// WaitForTenant answers from the cache when it covers pos and is fresh, else asks the runtime.
func (c *positionCache) WaitForTenant(ctx context.Context, projection, tenant string, pos eventstore.Position) (eventstore.Position, error) {
	key := cacheKey{projection: projection, tenant: tenant}
	if c.maxAge > 0 {
		c.mu.Lock()
		s, ok := c.seen[key]
		c.mu.Unlock()
		if ok && pos <= s.pos && time.Since(s.at) < c.maxAge {
			return s.pos, nil
		}
	}
	reached, err := c.src.WaitForTenant(ctx, projection, tenant, pos)
	if err == nil && c.maxAge > 0 {
		c.mu.Lock()
		if len(c.seen) >= maxCachedPositions {
			clear(c.seen)
		}
		if s := c.seen[key]; reached >= s.pos {
			c.seen[key] = seenPosition{pos: reached, at: time.Now()}
		}
		c.mu.Unlock()
	}
	return reached, err
}
