package readapi

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/eventstore"
)

type countingPositions struct {
	at    eventstore.Position
	calls int
	err   error
}

func (c *countingPositions) WaitFor(_ context.Context, _ string, pos eventstore.Position) (eventstore.Position, error) {
	c.calls++
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
		pos, err := c.WaitFor(ctx, "invoices", 0)
		assert.NoError(t, err)
		assert.Equal(t, eventstore.Position(10), pos)
	}
	assert.Equal(t, 1, src.calls, "one read, then the cache")
	_, err := c.WaitFor(ctx, "invoices", 10)
	assert.NoError(t, err)
	assert.Equal(t, 1, src.calls)
	_, err = c.WaitFor(ctx, "balances", 0)
	assert.NoError(t, err)
	assert.Equal(t, 2, src.calls, "per projection")
	pos, err := c.WaitFor(ctx, "invoices", 11)
	assert.Error(t, err, "beyond the cache: asks, and fails")
	assert.Equal(t, eventstore.Position(10), pos)
	assert.Equal(t, 3, src.calls)
	src.at = 12
	pos, _ = c.WaitFor(ctx, "invoices", 11)
	assert.Equal(t, eventstore.Position(12), pos)
	calls := src.calls
	time.Sleep(60 * time.Millisecond)
	src.at = 13
	pos, _ = c.WaitFor(ctx, "invoices", 0)
	assert.Equal(t, eventstore.Position(13), pos, "expired: read again")
	assert.Equal(t, calls+1, src.calls)
	off := newPositionCache(src, -1)
	before := src.calls
	_, _ = off.WaitFor(ctx, "invoices", 0)
	_, _ = off.WaitFor(ctx, "invoices", 0)
	assert.Equal(t, before+2, src.calls, "disabled")
}
