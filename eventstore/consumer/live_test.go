package consumer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// cancelOnAcquire is a pgx tracer that cancels the context of the lease's acquire statement
// once the statement has succeeded: a process stopping just as its try takes the lease.
type cancelOnAcquire struct {
	mu     sync.Mutex
	cancel context.CancelFunc
}

// acquireStatement marks the context of a traced acquire statement.
type acquireStatement struct{}

func (c *cancelOnAcquire) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if strings.HasPrefix(data.SQL, "INSERT INTO feed_checkpoints AS f (consumer, lease_holder") {
		return context.WithValue(ctx, acquireStatement{}, true)
	}
	return ctx
}

func (c *cancelOnAcquire) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	if ctx.Value(acquireStatement{}) == nil || data.Err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cancel != nil {
		c.cancel()
	}
}

// TestLeaseStoppedAsItIsTakenIsGivenBack: a process whose Hold ends (its context cancelled)
// just as its acquire statement takes the lease does not keep it; another takes it at once
// rather than standing by until it runs out. (Before, Acquire returned ctx's error with the
// lease taken, and nothing released it: the process managers' consumer groups stood still for
// the lease's TTL after a restart at the wrong moment.)
func TestLeaseStoppedAsItIsTakenIsGivenBack(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	hook := &cancelOnAcquire{}
	cfg := e.pool.Config()
	cfg.ConnConfig.Tracer = hook
	traced, err := pgxpool.NewWithConfig(testCtx(t), cfg)
	require.NoError(t, err)
	t.Cleanup(traced.Close)

	clock := newFakeClock()
	a := consumer.NewLease(traced, "test.lease", consumer.LeaseConfig{Holder: "a", TTL: time.Hour, Poll: 5 * time.Millisecond, Now: clock.Now})
	ctx, cancel := context.WithCancel(testCtx(t))
	hook.mu.Lock()
	hook.cancel = cancel
	hook.mu.Unlock()
	ran := false
	err = a.Hold(ctx, func(context.Context) error { ran = true; return nil })
	require.ErrorIs(t, err, context.Canceled)
	assert.False(t, ran, "the hold ended before it began")
	assert.Empty(t, leaseHolder(t, e, "test.lease"), "the lease taken as the hold ended is given back")

	b := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "b", TTL: time.Hour, Now: clock.Now})
	ok, err := b.TryAcquire(testCtx(t))
	require.NoError(t, err)
	assert.True(t, ok, "another process takes the lease at once, not after its TTL")
}

// slowTry is a lease clock on which each acquire statement takes the whole TTL: the first
// reading is start, every later one start+2·TTL. Before the second reading it runs meanwhile
// (another process acting while the try was under way).
type slowTry struct {
	mu        sync.Mutex
	start     time.Time
	ttl       time.Duration
	readings  int
	meanwhile func()
}

func (c *slowTry) Now() time.Time {
	c.mu.Lock()
	c.readings++
	n, meanwhile := c.readings, c.meanwhile
	c.mu.Unlock()
	if n == 1 {
		return c.start
	}
	if n == 2 && meanwhile != nil {
		meanwhile()
	}
	return c.start.Add(2 * c.ttl)
}

// TestLeaseTakenBySlowTryIsRenewed: a try that read the clock, then waited longer than the
// lease lasts (on the row's lock behind a catch-up page, or on a database in trouble) before
// it took the lease, wrote a lease that had run out already. Before, the process believed it
// held it, while any other process could take it at once: two processes took turns applying
// the live feed. Now the try renews the lease from the time it answers; or, when another
// process took it meanwhile, reports it not taken.
func TestLeaseTakenBySlowTryIsRenewed(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	start := newFakeClock().Now()
	later := func() time.Time { return start.Add(2 * ttl) }

	t.Run("renewed", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		ctx := testCtx(t)
		a := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "a", TTL: ttl, Now: (&slowTry{start: start, ttl: ttl}).Now})
		ok, err := a.TryAcquire(ctx)
		require.NoError(t, err)
		require.True(t, ok)
		b := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "b", TTL: ttl, Now: later})
		ok, err = b.TryAcquire(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "the slow try's lease is renewed from when it answered: not run out")
		assert.Equal(t, "a", leaseHolder(t, e, "test.lease"))
	})

	t.Run("taken meanwhile", func(t *testing.T) {
		t.Parallel()
		e := mustEnv(t)
		ctx := testCtx(t)
		b := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "b", TTL: ttl, Now: later})
		clock := &slowTry{start: start, ttl: ttl, meanwhile: func() {
			ok, err := b.TryAcquire(ctx)
			assert.NoError(t, err)
			assert.True(t, ok, "the slow try's lease had run out")
		}}
		a := consumer.NewLease(e.pool, "test.lease", consumer.LeaseConfig{Holder: "a", TTL: ttl, Now: clock.Now})
		ok, err := a.TryAcquire(ctx)
		require.NoError(t, err)
		assert.False(t, ok, "another process took the run-out lease before the slow try could renew it")
		assert.Equal(t, "b", leaseHolder(t, e, "test.lease"))
	})
}

// TestLiveLingers: with Linger, the events appended while the subscription lingers after a
// read that did not fill a page are applied together: five appends made during one linger
// take at most two transactions (the feed's subscription may have read the first of them
// ahead, before the linger ended), not five, and every event is applied once.
func TestLiveLingers(t *testing.T) {
	t.Parallel()
	e := mustEnv(t)
	var mu sync.Mutex
	var batches []int
	rec := record("p")
	handler := func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error {
		mu.Lock()
		batches = append(batches, len(envs))
		mu.Unlock()
		return rec(ctx, tx, envs)
	}
	// Long enough for the five appends below on a loaded machine, short for the test.
	const linger = 2 * time.Second
	c := mustConsumer(t, e, "test.linger", handler, consumer.Config{PageEvents: 100, Linger: linger, RetryDelay: 10 * time.Millisecond,
		Lease: consumer.LeaseConfig{Holder: "p", TTL: leaseTTL, Poll: 5 * time.Millisecond}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Live(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	eventually(t, "the consumer holds its lease", func() bool { return leaseHolder(t, e, "test.linger") == "p" })

	first := e.appendEvents(t, 1)
	waitApplied(t, e, c, first)
	var head eventstore.Position
	for range 5 { // five appends, each its own commit, while the subscription lingers
		head = e.appendEvents(t, 1)
	}
	waitApplied(t, e, c, head)
	n, _ := e.applied(t, 0)
	assert.Equal(t, 6, n)
	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, batches)
	assert.Equal(t, 1, batches[0])
	assert.LessOrEqual(t, len(batches[1:]), 2, "five appends made while lingering: %v", batches)
}
