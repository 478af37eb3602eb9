package process_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// stallingStore stalls the first read of one stream until release is closed, whatever the
// context: a handler stuck in a call that does not heed cancellation.
type stallingStore struct {
	eventstore.Store
	stream   string
	once     sync.Once
	entered  chan struct{} // closed when the read stalls
	release  chan struct{}
	returned atomic.Bool // the stalled read has returned
}

func (s *stallingStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	stall := false
	if stream == s.stream {
		s.once.Do(func() { stall = true })
	}
	if stall {
		close(s.entered)
		<-s.release
		defer s.returned.Store(true)
	}
	return s.Store.ReadStream(ctx, stream, from, dir, limit)
}

// TestStopWaitsForRunningHandlers: Stop returns only once every handler the manager started
// has returned, even one that outlasts the router's close timeout (after which Watermill's
// router stops waiting): a stopped manager has no work running.
func TestStopWaitsForRunningHandlers(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	f.clock.Set(at("2026-01-05", 9))
	f.customer("Customer 1", "fiber_100")
	jan := period("2026-01")
	f.crashRun(jan) // an unfinished run: the billing watchdog reads its stream to see how idle it is
	store := &stallingStore{Store: f.store, stream: domain.BillingRunStream(f.tenant, jan),
		entered: make(chan struct{}), release: make(chan struct{})}
	cfg := process.WithRouterCloseTimeout(f.config(), time.Millisecond)
	cfg.Store = store
	m := f.start(cfg)
	<-store.entered

	stopped := make(chan bool)
	go func() {
		m.Stop()
		stopped <- store.returned.Load()
	}()
	time.Sleep(100 * time.Millisecond) // time for a Stop that does not wait to return
	close(store.release)
	require.True(t, <-stopped, "Stop returned while the billing watchdog's handler was running")
	assert.False(t, f.runCompleted(jan), "the watchdog's command is not sent once the manager stops")
}
