package projections_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// TestWaitFor: WaitFor returns once the checkpoint reaches the position, woken by the
// notification of the transaction that got it there — also in a process that runs no
// projector (the query role) — and, when its context ends first, returns the position reached
// with ErrNotReached.
func TestWaitFor(t *testing.T) {
	t.Parallel()
	e, projs, rt := caughtUpCounter(t)

	queryPool, queryStore := e.process(t, "proj-wait-query")
	query := projectiontest.New(t, queryPool, queryStore, projs, testOptions()) // not started

	for _, waiter := range []*projections.Runtime{rt, query} {
		// A position already reached answers at once; asked first, it also opens the
		// waiter's connection, which on a loaded host can take longer than the timeout below.
		reached, err := waiter.WaitFor(context.Background(), "counter", 100)
		require.NoError(t, err)
		require.Equal(t, eventstore.Position(100), reached)

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		reached, err = waiter.WaitFor(ctx, "counter", 150)
		cancel()
		require.ErrorIs(t, err, projections.ErrNotReached)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, eventstore.Position(100), reached, "times out with the current position")
		var nr *projections.NotReachedError
		require.True(t, errors.As(err, &nr))
		assert.Equal(t, eventstore.Position(150), nr.Want)
	}

	type result struct {
		pos eventstore.Position
		err error
		at  time.Time
	}
	done := make(chan result, 2)
	for _, waiter := range []*projections.Runtime{rt, query} {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			pos, err := waiter.WaitFor(ctx, "counter", 150)
			done <- result{pos, err, time.Now()}
		}()
	}
	time.Sleep(100 * time.Millisecond) // both waiting
	appendEvents(t, e.store, 60, 3, nil)
	appended := time.Now()
	for range 2 {
		r := <-done
		require.NoError(t, r.err)
		assert.GreaterOrEqual(t, r.pos, eventstore.Position(150))
		assert.Less(t, r.at.Sub(appended), 5*time.Second)
	}

	pos, err := query.Checkpoint(context.Background(), "counter")
	require.NoError(t, err)
	assert.GreaterOrEqual(t, pos, eventstore.Position(150))
	_, err = query.WaitFor(context.Background(), "nope", 1)
	require.ErrorIs(t, err, projections.ErrUnknownProjection)
}

// TestWaitForPassedPosition returns at once when the position is already applied.
func TestWaitForPassedPosition(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	appendEvents(t, e.store, 10, 2, nil)
	rt := projectiontest.Start(t, e.pool, e.store, []projections.Projection{&counter{name: "counter", version: 1}}, testOptions())
	projectiontest.WaitCaughtUp(t, rt, "counter", 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	pos, err := rt.WaitFor(ctx, "counter", 5)
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(10), pos)
	assert.Less(t, time.Since(start), 500*time.Millisecond)
}

// TestWaitersKeepWhatTheyRead: a waiter reads the projection's status from the database only
// when no waiter of the runtime has since the listener connected: later waits start from that
// read and the announcements since (a read-your-writes read of the query API cost a round trip
// each), and still end when the checkpoint reaches their position. An announced change of the
// tenant stalls sends the next waiter back to the database.
func TestWaitersKeepWhatTheyRead(t *testing.T) {
	t.Parallel()
	e, projs, _ := caughtUpCounter(t) // the projector whose checkpoint the waiters watch

	pool, log := e.tracedPool(t)
	query := projectiontest.New(t, pool, e.store, projs, testOptions()) // the query role
	reads := func() int { return countOf(log.reset(), "coalesce(r.last_error, '')") }
	wait := func(pos eventstore.Position, tenant string) eventstore.Position {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var reached eventstore.Position
		var err error
		if tenant == "" {
			reached, err = query.WaitFor(ctx, "counter", pos)
		} else {
			reached, err = query.WaitForTenant(ctx, "counter", tenant, pos)
		}
		require.NoError(t, err)
		return reached
	}

	// The first waits read (the listener connects meanwhile); once it listens, one read is kept.
	require.Eventually(t, func() bool {
		wait(100, "")
		return reads() == 0
	}, 20*time.Second, 10*time.Millisecond, "every wait reads the database")
	for range 5 {
		assert.Equal(t, eventstore.Position(100), wait(100, ""))
	}
	assert.Zero(t, reads(), "waits after the kept read")

	appendEvents(t, e.store, 60, 3, nil)
	assert.GreaterOrEqual(t, wait(160, ""), eventstore.Position(160), "woken by the announcements")
	assert.Zero(t, reads())

	wait(160, "acme")
	assert.Equal(t, 1, reads(), "a tenant's first wait reads its stall")
	wait(160, "acme")
	assert.Zero(t, reads())

	_, err := e.pool.Exec(context.Background(), `SELECT pg_notify($1, 'counter:stalls')`, projections.NotifyChannel(e.app))
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		wait(160, "")
		return reads() == 1
	}, 20*time.Second, 10*time.Millisecond, "a change of stalls is read again")
	wait(160, "")
	assert.Zero(t, reads())
}
