package commands

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// fakeOwned is an owned state for the cache's tests.
type fakeOwned struct{ snap snapshot }

func (o *fakeOwned) snapshot() snapshot { return o.snap }

// TestTheCacheHandsAnOwnedStateToOneHolder: between two batches the owned state goes to the
// next leader (take) or, with its ownership, to a reader (get), never to both; while a leader
// holds it, readers get the shared snapshot (kept beside a later owned state only for a busy
// stream); an owned state behind a shared one is dropped.
func TestTheCacheHandsAnOwnedStateToOneHolder(t *testing.T) {
	t.Parallel()
	c := newStateCache(10)
	shared := snapshot{state: "v1", version: 1}
	c.put("s", shared)
	o := &fakeOwned{snap: snapshot{state: "v3", version: 3}}
	c.giveBack("s", o, true)

	snap, owned, ok := c.take("s")
	require.True(t, ok)
	assert.Same(t, o, owned, "the next leader takes the owned state")
	assert.Equal(t, shared, snap)
	got, ok := c.get("s")
	require.True(t, ok)
	assert.Equal(t, shared, got, "a reader meanwhile gets the shared snapshot")
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "no second leader gets it")

	c.giveBack("s", o, true)
	got, _ = c.get("s")
	assert.Equal(t, o.snap, got, "a reader gets the owned state between batches")
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "and it is shared from then on: the next leader gets no owner")

	c.giveBack("s", &fakeOwned{snap: snapshot{state: "v2", version: 2}}, false)
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "an owned state behind the shared snapshot is dropped")

	o4 := &fakeOwned{snap: snapshot{state: "v4", version: 4}}
	c.giveBack("s", o4, false)
	c.put("s", snapshot{state: "v5", version: 5})
	snap, owned, _ = c.take("s")
	assert.Nil(t, owned, "a later shared snapshot (another process's events) wins")
	assert.Equal(t, uint64(5), snap.version)

	c.giveBack("t", &fakeOwned{snap: snapshot{state: "t1", version: 1}}, false)
	got, ok = c.get("t")
	require.True(t, ok, "an entry made by giveBack alone")
	assert.Equal(t, "t1", got.state)

	none := newStateCache(0)
	none.giveBack("s", o, false)
	_, owned, ok = none.take("s")
	assert.False(t, ok)
	assert.Nil(t, owned, "a cache of no streams keeps no owned state")

	idle := newStateCache(10)
	idle.put("s", shared)
	idle.giveBack("s", o, false)
	_, owned, ok = idle.take("s")
	assert.Same(t, o, owned)
	assert.False(t, ok, "an idle stream's entry keeps no older shared snapshot beside its owned state")
	_, ok = idle.get("s")
	assert.False(t, ok, "so a reader meanwhile reads the stream from its start")
	idle.giveBack("s", o, false)
	got, ok = idle.get("s")
	require.True(t, ok)
	assert.Equal(t, o.snap, got, "and between batches gets the owned state")
}

// TestAReaderMayWaitForTheOwnedStateALeaderHolds: an idle stream's entry holds its owned
// state alone; while the next leader holds it, getOrWait hands readers a channel (the same
// one to each), closed when the state comes back, when a later shared snapshot is put, or
// when the entry is evicted; a stream with a shared snapshot, or none held, gives none.
func TestAReaderMayWaitForTheOwnedStateALeaderHolds(t *testing.T) {
	t.Parallel()
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	c := newStateCache(2)
	o := &fakeOwned{snap: snapshot{state: "v3", version: 3}}
	c.giveBack("s", o, false)
	got, ok, back := c.getOrWait("s")
	require.True(t, ok, "between batches a reader gets the owned state")
	assert.Nil(t, back)
	assert.Equal(t, o.snap, got)

	c.giveBack("s", o, false) // the reader dropped the owner: the next leader starts a new owned state
	_, owned, _ := c.take("s")
	require.Same(t, o, owned)
	_, ok, back = c.getOrWait("s")
	assert.True(t, ok, "a shared snapshot is there while the leader holds the owned state")
	assert.Nil(t, back)

	c.giveBack("u", &fakeOwned{snap: snapshot{state: "u1", version: 1}}, false)
	_, owned, ok = c.take("u")
	require.NotNil(t, owned)
	require.False(t, ok, "an idle stream's entry holds its owned state alone")
	_, ok, back = c.getOrWait("u")
	require.False(t, ok)
	require.NotNil(t, back, "a reader may wait for the leader")
	_, _, again := c.getOrWait("u")
	assert.Equal(t, back, again, "every reader waits on the same channel")
	assert.False(t, closed(back))
	c.giveBack("u", &fakeOwned{snap: snapshot{state: "u2", version: 2}}, false)
	assert.True(t, closed(back), "given back: the readers go on")
	got, ok, back = c.getOrWait("u")
	require.True(t, ok)
	assert.Nil(t, back)
	assert.Equal(t, "u2", got.state)

	c.giveBack("u", &fakeOwned{snap: snapshot{state: "u3", version: 3}}, false)
	_, _, _ = c.take("u")
	_, _, back = c.getOrWait("u")
	require.NotNil(t, back)
	c.put("u", snapshot{state: "u4", version: 4})
	assert.True(t, closed(back), "a later shared snapshot (read from the store) ends the wait")

	c.giveBack("u", &fakeOwned{snap: snapshot{state: "u5", version: 5}}, false)
	_, _, _ = c.take("u")
	_, _, back = c.getOrWait("u")
	require.NotNil(t, back)
	c.put("x", snapshot{state: "x1", version: 1})
	c.put("y", snapshot{state: "y1", version: 1})
	assert.True(t, closed(back), "an evicted entry ends the wait")

	_, ok, back = c.getOrWait("nothing")
	assert.False(t, ok)
	assert.Nil(t, back, "nothing cached: nothing to wait for")
}

// streamReadCounter counts the events ReadStream returns.
type streamReadCounter struct {
	eventstore.Store
	events, calls atomic.Int64
}

func (s *streamReadCounter) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	envs, err := s.Store.ReadStream(ctx, stream, from, dir, limit)
	s.calls.Add(1)
	s.events.Add(int64(len(envs)))
	return envs, err
}

// TestALoadWaitsForTheLeaderRatherThanReadTheStream: a reader loading an idle account while
// its next leader holds the owned state waits for it and reads only what follows it, not the
// whole stream (it did, a fifth of dunning's loads under the commands bench); a leader that
// never gives it back holds the reader no longer than heldWait, and it then reads the stream.
func TestALoadWaitsForTheLeaderRatherThanReadTheStream(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000016")
	store := &streamReadCounter{Store: f.store}
	h := f.handlersOver(t, store)
	f.register(t, h)
	for range 5 {
		_, d := f.payment(t)
		_, err := execute(ctx, h, f.meta(t), f.tgt, d)
		require.NoError(t, err)
	}
	_, owned, ok := h.cache.take(f.tgt.stream) // the stream's next leader
	require.NotNil(t, owned)
	require.False(t, ok, "the idle stream's entry held its owned state alone")
	version := owned.snapshot().version

	type loaded struct {
		a       domain.AccountState
		version uint64
		err     error
	}
	done := make(chan loaded, 1)
	read := store.events.Load()
	go func() {
		a, v, err := h.Account(ctx, f.tenant, f.customer)
		done <- loaded{a, v, err}
	}()
	require.Eventually(t, func() bool {
		h.cache.mu.Lock()
		defer h.cache.mu.Unlock()
		return entryOf(h.cache.entries[f.tgt.stream]).back != nil
	}, 10*time.Second, time.Millisecond, "the reader waits for the leader")
	h.cache.giveBack(f.tgt.stream, owned, false)
	got := <-done
	require.NoError(t, got.err)
	assert.Equal(t, version, got.version)
	assert.Equal(t, f.folded(t, 0), got.a)
	assert.Zero(t, store.events.Load()-read, "no event read: the owned state was the stream's head")

	// Another process's handlers (an empty cache): one payment leaves the owned state alone.
	h2, err := New(Config{Store: store, Numbers: noNumbers{}, Now: func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)
	_, d := f.payment(t)
	_, err = execute(ctx, h2, f.meta(t), f.tgt, d)
	require.NoError(t, err)
	version++
	_, owned, ok = h2.cache.take(f.tgt.stream)
	require.NotNil(t, owned) // a leader that never gives it back
	require.False(t, ok)
	read = store.events.Load()
	a, v, err := h2.Account(ctx, f.tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, version, v)
	assert.Equal(t, f.folded(t, 0), a)
	assert.Equal(t, int64(version), store.events.Load()-read, "after heldWait the reader reads the stream")
}

// TestAccountAtAnswersFromTheCacheAsOfItsTrigger: a reader asking for the account as of a
// position (dunning, on its trigger event) is answered from the cache, without reading the
// stream, when the cache holds the stream up to an event at that position or later; an event
// another process appended after what the cache holds is read when asked as of it, and
// Account (as it stands) always reads.
func TestAccountAtAnswersFromTheCacheAsOfItsTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000017")
	store := &streamReadCounter{Store: f.store}
	h := f.handlersOver(t, store)
	f.register(t, h)
	_, d := f.payment(t)
	paid, err := execute(ctx, h, f.meta(t), f.tgt, d)
	require.NoError(t, err)

	calls := store.calls.Load()
	a, version, err := h.AccountAt(ctx, f.tenant, f.customer, paid.Position)
	require.NoError(t, err)
	assert.Equal(t, paid.Version, version)
	assert.Equal(t, "-1.00 USD", balanceOf(t, a))
	assert.Equal(t, calls, store.calls.Load(), "the cache held the trigger's event: no read")

	other := f.handlers(t) // another process, its own cache
	_, d = f.payment(t)
	later, err := execute(ctx, other, f.meta(t), f.tgt, d)
	require.NoError(t, err)

	_, version, err = h.AccountAt(ctx, f.tenant, f.customer, paid.Position)
	require.NoError(t, err)
	assert.Equal(t, paid.Version, version, "as of the first payment, the cache answers")
	assert.Equal(t, calls, store.calls.Load())

	a, version, err = h.AccountAt(ctx, f.tenant, f.customer, later.Position)
	require.NoError(t, err)
	assert.Equal(t, later.Version, version, "as of the other process's payment, the stream is read")
	assert.Equal(t, "-2.00 USD", balanceOf(t, a))
	assert.Equal(t, calls+1, store.calls.Load())

	_, _, err = h.Account(ctx, f.tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, calls+2, store.calls.Load(), "as it stands: always read")
}

func balanceOf(t *testing.T, a domain.AccountState) string {
	t.Helper()
	b, err := a.Balance()
	require.NoError(t, err)
	return b.String()
}
