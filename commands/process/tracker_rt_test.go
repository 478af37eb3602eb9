package process_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/process"
)

// countingTracer counts the statements a pool runs, those of batches included.
type countingTracer struct{ n atomic.Int64 }

func (c *countingTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (*countingTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// countedPool opens a second pool on f's database whose statements tracer counts.
func (f *fixture) countedPool() (*pgxpool.Pool, *countingTracer) {
	f.t.Helper()
	cfg := f.pool.Config()
	tracer := &countingTracer{}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	require.NoError(f.t, err)
	f.t.Cleanup(pool.Close)
	return pool, tracer
}

// The statements of a pgx.Batch count one each.

func (*countingTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}

func (c *countingTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}

func (*countingTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// TestMayNeedDunningIsOneStatementWhenCaughtUp: a payment the tracker has already applied
// (the usual case: it catches up a page of events at once) is answered with one statement,
// the tracker's place and the answer read together; behind, the tracker catches up first and
// the answer sees the event.
func TestMayNeedDunningIsOneStatementWhenCaughtUp(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	ctx := context.Background()
	f.clock.Set(at("2026-03-01", 9))
	late, _ := f.customer("Late", "fiber_100")
	f.invoice(late, "10.00", day("2026-03-05"))
	onTime, _ := f.customer("OnTime", "fiber_100")
	f.pay(onTime, "5.00")

	pool, tracer := f.countedPool()
	tracker := process.NewTracker(pool, f.store)
	head, err := f.store.Head(ctx)
	require.NoError(t, err)
	today := day("2026-03-25")

	// Behind: it catches up first, then answers as of the event.
	may, err := tracker.MayNeedDunning(ctx, f.tenant, late, head, today, 14)
	require.NoError(t, err)
	assert.True(t, may, "an invoice due 20 days ago with 14 days of grace")

	tracer.n.Store(0)
	may, err = tracker.MayNeedDunning(ctx, f.tenant, onTime, head, today, 14)
	require.NoError(t, err)
	assert.False(t, may, "nothing owed, nothing suspended")
	assert.Equal(t, int64(1), tracer.n.Load(), "statements for a payment the tracker has applied")

	may, err = tracker.MayNeedDunning(ctx, f.tenant, late, head, day("2026-03-10"), 14)
	require.NoError(t, err)
	assert.False(t, may, "still within grace")
}
