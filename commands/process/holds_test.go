package process_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
)

// TestHeldTenantIsLeftAlone: while a tool holds the tenant, the scheduler marks none of its
// invoices overdue (and sends it nothing else); once the hold is released, or has lapsed, the
// next tick marks what is due.
func TestHeldTenantIsLeftAlone(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	by, _ := f.customer("Late", "fiber_100")
	inv := f.invoice(by, "50.00", day("2026-03-15"))

	holds := process.NewHolds(f.pool)
	require.NoError(t, holds.Hold(ctx, f.tenant, "seed one", "test", time.Minute))
	held, err := holds.Held(ctx, f.tenant)
	require.NoError(t, err)
	assert.True(t, held)
	// Another holder cannot take it; the same holder renews it.
	require.ErrorIs(t, holds.Hold(ctx, f.tenant, "seed two", "test", time.Minute), process.ErrHeld)
	require.NoError(t, holds.Hold(ctx, f.tenant, "seed one", "test", time.Minute))

	f.clock.Set(at("2026-03-20", 9))
	m := f.start(f.config())
	require.NoError(t, m.Tick(ctx))
	assert.Empty(t, overdueMarks(f.decoded()), "a held tenant is left alone")

	require.NoError(t, holds.Release(ctx, f.tenant, "seed one"))
	require.NoError(t, m.Tick(ctx))
	assert.Equal(t, map[domain.InvoiceID]int{inv: 1}, overdueMarks(f.decoded()), "the next tick after the hold marks it")
}

// TestHoldLapses: a hold that is not renewed lapses at its end, and another holder may take
// it then, not before. The holds run on the test's clock: a busy machine cannot make the hold
// lapse before the other holder is refused.
func TestHoldLapses(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	start := at("2026-03-01", 9)
	f.clock.Set(start)
	holds := process.NewHoldsAt(f.pool, f.clock.Now)
	require.NoError(t, holds.Hold(ctx, f.tenant, "crashed seed", "test", time.Minute))
	f.clock.Set(start.Add(59 * time.Second))
	require.ErrorIs(t, holds.Hold(ctx, f.tenant, "next seed", "test", time.Minute), process.ErrHeld)
	held, err := holds.Held(ctx, f.tenant)
	require.NoError(t, err)
	assert.True(t, held, "held until its end")

	f.clock.Set(start.Add(time.Minute))
	held, err = holds.Held(ctx, f.tenant)
	require.NoError(t, err)
	assert.False(t, held, "lapsed at its end")
	require.NoError(t, holds.Hold(ctx, f.tenant, "next seed", "test", time.Minute))
	// Releasing someone else's hold does nothing.
	require.NoError(t, holds.Release(ctx, f.tenant, "crashed seed"))
	held, err = holds.Held(ctx, f.tenant)
	require.NoError(t, err)
	assert.True(t, held)
}
