package readapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
)

type countingPositions struct {
	at      eventstore.Position
	calls   int
	err     error
	stalled string // a tenant the fake answers ErrStalled for
}

func (c *countingPositions) WaitForTenant(_ context.Context, projection, tenant string, pos eventstore.Position) (eventstore.Position, error) {
	c.calls++
	if tenant == c.stalled {
		return c.at, &projections.TenantStalledError{Projection: projection, ErrorID: "err-0123456789abcdef", Reached: c.at}
	}
	if c.err != nil || pos > c.at {
		return c.at, errors.Join(c.err, context.DeadlineExceeded)
	}
	return c.at, nil
}

// The cache answers what it covers while fresh, asks for anything beyond it, forgets after
// maxAge and never caches a failure.
func TestPositionCache(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &countingPositions{at: 10}
	c := newPositionCache(src, 50*time.Millisecond)
	for range 3 {
		pos, err := c.WaitForTenant(ctx, "invoices", "acme", 0)
		assert.NoError(t, err)
		assert.Equal(t, eventstore.Position(10), pos)
	}
	assert.Equal(t, 1, src.calls, "one read, then the cache")
	_, err := c.WaitForTenant(ctx, "invoices", "acme", 10)
	assert.NoError(t, err)
	assert.Equal(t, 1, src.calls)
	_, err = c.WaitForTenant(ctx, "balances", "acme", 0)
	assert.NoError(t, err)
	assert.Equal(t, 2, src.calls, "per projection")
	pos, err := c.WaitForTenant(ctx, "invoices", "acme", 11)
	assert.Error(t, err, "beyond the cache: asks, and fails")
	assert.Equal(t, eventstore.Position(10), pos)
	assert.Equal(t, 3, src.calls)
	src.at = 12
	pos, _ = c.WaitForTenant(ctx, "invoices", "acme", 11)
	assert.Equal(t, eventstore.Position(12), pos)
	calls := src.calls
	time.Sleep(60 * time.Millisecond)
	src.at = 13
	pos, _ = c.WaitForTenant(ctx, "invoices", "acme", 0)
	assert.Equal(t, eventstore.Position(13), pos, "expired: read again")
	assert.Equal(t, calls+1, src.calls)
	off := newPositionCache(src, -1)
	before := src.calls
	_, _ = off.WaitForTenant(ctx, "invoices", "acme", 0)
	_, _ = off.WaitForTenant(ctx, "invoices", "acme", 0)
	assert.Equal(t, before+2, src.calls, "disabled")
}

// The cache is per tenant: a tenant whose read model is stalled gets its 503 even while another
// tenant's answer for the same projection is fresh in the cache.
func TestPositionCacheIsPerTenant(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src := &countingPositions{at: 10, stalled: "globex"}
	c := newPositionCache(src, time.Minute)
	_, err := c.WaitForTenant(ctx, "invoices", "acme", 0)
	assert.NoError(t, err)
	for range 2 {
		_, err = c.WaitForTenant(ctx, "invoices", "globex", 0)
		assert.ErrorIs(t, err, projections.ErrStalled)
	}
	assert.Equal(t, 3, src.calls, "globex is never answered from acme's checkpoint, nor from its own failure")
}
