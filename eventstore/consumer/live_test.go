package consumer_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
)

// leaseTTL is long enough that no heartbeat (every TTL/3, real time) beats during a test: the
// fake clock alone decides when a lease expires.
const leaseTTL = 3 * time.Minute

// process is one process running a consumer live.
type process struct {
	holder string
	c      *consumer.Consumer
	stop   context.CancelFunc
	done   chan struct{}
}

func startLive(t *testing.T, e *env, name, holder string, clock *fakeClock) *process {
	t.Helper()
	c := mustConsumer(t, e, name, record(holder), consumer.Config{PageEvents: 10, RetryDelay: 10 * time.Millisecond,
		Lease: consumer.LeaseConfig{Holder: holder, TTL: leaseTTL, Poll: 5 * time.Millisecond, Now: clock.Now}})
	ctx, cancel := context.WithCancel(context.Background())
	p := &process{holder: holder, c: c, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		_ = c.Live(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-p.done
	})
	return p
}

func (p *process) halt() {
	p.stop()
	<-p.done
}

func leaseHolder(t *testing.T, e *env, name string) string {
	t.Helper()
	var holder *string
	var expires, renewed *time.Time
	err := e.pool.QueryRow(testCtx(t), consumer.TableIn("").Lease, name).Scan(&holder, &expires, &renewed)
	if !errors.Is(err, pgx.ErrNoRows) {
		require.NoError(t, err)
	}
	if holder == nil {
		return ""
	}
	return *holder
}

func waitApplied(t *testing.T, e *env, c *consumer.Consumer, head eventstore.Position) {
	t.Helper()
	eventually(t, "the consumer reaches the head", func() bool {
		pos, err := c.Position(testCtx(t))
		require.NoError(t, err)
		return pos >= head
	})
}

// TestLiveOnlyTheHolderApplies: three processes run one consumer live; only the lease's
// holder applies. A lease left by a dead process is taken over once it expires; a holder
// that stops hands over at once; a holder whose lease expired (a paused process) is taken
// over and stops applying.
func TestLiveOnlyTheHolderApplies(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	clock := newFakeClock()
	const name = "test.live"
	dead := consumer.NewLease(e.pool, name, consumer.LeaseConfig{Holder: "dead", TTL: leaseTTL, Now: clock.Now})
	ok, err := dead.TryAcquire(testCtx(t))
	require.NoError(t, err)
	require.True(t, ok)

	procs := map[string]*process{}
	for _, h := range []string{"p1", "p2", "p3"} {
		procs[h] = startLive(t, e, name, h, clock)
	}
	head := e.appendEvents(t, 15)
	n, _ := e.applied(t, 0)
	assert.Zero(t, n, "the dead process's lease has not expired: nobody applies")
	assert.Equal(t, "dead", leaseHolder(t, e, name))

	clock.Add(leaseTTL + time.Second)
	waitApplied(t, e, procs["p1"].c, head)
	first := leaseHolder(t, e, name)
	n, holders := e.applied(t, 0)
	assert.Equal(t, 15, n)
	assert.Equal(t, []string{first}, holders, "only the holder applied")

	procs[first].halt()
	eventually(t, "another process takes the released lease", func() bool {
		h := leaseHolder(t, e, name)
		return h != "" && h != first
	})
	second := leaseHolder(t, e, name)
	from := head
	head = e.appendEvents(t, 12)
	waitApplied(t, e, procs[second].c, head)
	n, holders = e.applied(t, from)
	assert.Equal(t, 12, n)
	assert.Equal(t, []string{second}, holders)

	clock.Add(leaseTTL + time.Second) // the second holder misses its heartbeats
	eventually(t, "the last process takes the expired lease", func() bool {
		h := leaseHolder(t, e, name)
		return h != second
	})
	third := leaseHolder(t, e, name)
	assert.NotContains(t, []string{"", first, second}, third)
	from = head
	head = e.appendEvents(t, 9)
	waitApplied(t, e, procs[third].c, head)
	n, holders = e.applied(t, from)
	assert.Equal(t, 9, n)
	assert.Equal(t, []string{third}, holders, "the process whose lease expired applies nothing more")
}

func TestLeaseKeepAndRelease(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	ctx := testCtx(t)
	clock := newFakeClock()
	a := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "a", TTL: time.Minute, Poll: 5 * time.Millisecond, Now: clock.Now})
	b := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "b", TTL: time.Minute, Now: clock.Now})
	ok, err := a.TryAcquire(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "held")
	clock.Add(50 * time.Second)
	require.NoError(t, a.Renew(ctx))
	clock.Add(50 * time.Second)
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.False(t, ok, "renewed: still held")
	require.NoError(t, a.Release(ctx))
	ok, err = b.TryAcquire(ctx)
	require.NoError(t, err)
	assert.True(t, ok, "released")
	assert.ErrorIs(t, a.Renew(ctx), consumer.ErrLeaseLost)

	var wg sync.WaitGroup
	wg.Add(1)
	acquired := make(chan error, 1)
	go func() {
		defer wg.Done()
		acquired <- a.Acquire(ctx)
	}()
	require.NoError(t, b.Release(ctx))
	wg.Wait()
	require.NoError(t, <-acquired, "Acquire stands by until the lease is free")
	assert.Equal(t, "a", leaseHolder(t, e, "test.lease"))
}
