package commands

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// folded reads the account's stream from the store and folds its first version events (all of
// them when version is 0): what a fresh process would hold.
func (f *accountFixture) folded(t *testing.T, version uint64) domain.AccountState {
	t.Helper()
	envs, err := f.store.ReadStream(context.Background(), f.tgt.stream, 1, eventstore.Forwards, 10_000)
	require.NoError(t, err)
	if version == 0 {
		version = uint64(len(envs))
	}
	require.LessOrEqual(t, version, uint64(len(envs)))
	events := make([]domain.Event, version)
	for i := range events {
		events[i], err = codec.Decode(&envs[i])
		require.NoError(t, err)
	}
	a, err := domain.FoldAccount(events)
	require.NoError(t, err)
	return a
}

// payBatch queues n payments on the account's stream in h and runs them as one batch, as the
// stream's leader would; the caller has joined the stream's lock (l), as under a steady flow
// of commands.
func (f *accountFixture) payBatch(t *testing.T, h *Handlers, l *streamLock, n int) []*request[domain.AccountState] {
	t.Helper()
	reqs := make([]*request[domain.AccountState], n)
	for i := range reqs {
		_, d := f.payment(t)
		reqs[i] = &request[domain.AccountState]{ctx: context.Background(), m: f.meta(t), t: f.tgt, decide: d, done: make(chan struct{})}
		l.enqueue(reqs[i])
	}
	l.held <- struct{}{}
	func() {
		defer l.unlock()
		lead(h, l, f.tgt)
	}()
	return reqs
}

// TestStatesOthersHoldStayAsTheyWere: a stream's batches write their owned state in place,
// and the cache hands it to a reader only with its ownership. Every state a reader took from the cache, or loaded, while
// batches went on is still exactly the fold of the stream up to its version afterwards, and so
// is the state cached at the end.
func TestStatesOthersHoldStayAsTheyWere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000010")
	h := f.handlers(t)
	f.register(t, h) // the cache holds the owned state
	type held struct {
		state   domain.AccountState
		version uint64
	}
	var reads []held
	read := func() {
		snap := h.cachedSnapshot(f.tgt.stream, domain.AccountState{})
		reads = append(reads, held{stateOf[domain.AccountState](snap), snap.version})
	}
	read()

	l, release := h.locks.join(f.tgt.stream)
	handedOver := false
	for range 12 { // 1,200 payments: more than minHandOverEvents
		for i, r := range f.payBatch(t, h, l, 100) {
			require.NoError(t, r.err, "payment %d", i)
		}
		read()
		handedOver = handedOver || reads[len(reads)-1].version > 1
	}
	assert.True(t, handedOver, "the cache handed the owned state to a reader while the stream was busy")
	release()

	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 40 { // concurrent commands (in batches) and readers
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				a, v, err := h.Account(ctx, f.tenant, f.customer)
				assert.NoError(t, err)
				mu.Lock()
				reads = append(reads, held{a, v})
				mu.Unlock()
				return
			}
			_, d := f.payment(t)
			_, err := execute(ctx, h, f.meta(t), f.tgt, d)
			assert.NoError(t, err)
		}()
	}
	wg.Wait()

	for _, r := range reads {
		require.Equal(t, f.folded(t, r.version), r.state, "the state read at version %d", r.version)
	}
	final := h.cachedSnapshot(f.tgt.stream, domain.AccountState{})
	assert.Equal(t, uint64(1+1200+30), final.version)
	assert.Equal(t, f.folded(t, 0), stateOf[domain.AccountState](final), "the cached state is the stream's fold")
}

// flakyStore fails appends to stream as flakyAppends says, in turn: o stores it, b fails
// before storing it, a fails after storing it (the caller cannot know it was stored).
type flakyStore struct {
	eventstore.Store
	stream string
	mu     sync.Mutex
	n      int
	lost   int // events stored by appends answered with an error
}

var errConnectionLost = errors.New("connection lost")

// flakyAppends: each failure follows an append that succeeded, so the batch that fails writes
// in place a state an earlier batch appended.
const flakyAppends = "oboaoo"

func (s *flakyStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if stream != s.stream {
		return s.Store.Append(ctx, stream, expected, events...)
	}
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	switch flakyAppends[(n-1)%len(flakyAppends)] {
	case 'b':
		return eventstore.AppendResult{}, errConnectionLost
	case 'a':
		if _, err := s.Store.Append(ctx, stream, expected, events...); err != nil {
			return eventstore.AppendResult{}, err
		}
		s.mu.Lock()
		s.lost += len(events)
		s.mu.Unlock()
		return eventstore.AppendResult{}, errConnectionLost
	}
	return s.Store.Append(ctx, stream, expected, events...)
}

// TestAFailedAppendLeavesTheOwnedStateAsFolded: a batch whose append fails (before storing, or
// after, unknown to it) rolls its in-place writes back: between batches the stream's owned
// state is the fold of the stream at its version, and so is the state cached once the lock's
// last caller has left; the account then loads with every stored payment once.
func TestAFailedAppendLeavesTheOwnedStateAsFolded(t *testing.T) {
	t.Parallel()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000011")
	f.register(t, f.handlers(t))
	flaky := &flakyStore{Store: f.store, stream: f.tgt.stream}
	h, err := New(Config{Store: flaky, Numbers: noNumbers{}, Now: func() time.Time { return time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC) }})
	require.NoError(t, err)

	l, release := h.locks.join(f.tgt.stream)
	paid, failed := 0, 0
	for range 9 {
		for _, r := range f.payBatch(t, h, l, 5) {
			if r.err != nil {
				require.ErrorIs(t, r.err, errConnectionLost)
				failed++
				continue
			}
			paid++
		}
		owned := ownedIn(t, h, f.tgt.stream)
		require.Equal(t, f.folded(t, owned.version), stateOf[domain.AccountState](owned), "the owned state at version %d", owned.version)
	}
	release()
	assert.Positive(t, paid)
	assert.Positive(t, failed)
	assert.Positive(t, flaky.lost, "some appends were stored and answered with an error")

	final := h.cachedSnapshot(f.tgt.stream, domain.AccountState{})
	assert.Equal(t, f.folded(t, final.version), stateOf[domain.AccountState](final), "the cached state at version %d", final.version)
	loaded, _, err := h.Account(context.Background(), f.tenant, f.customer)
	require.NoError(t, err)
	assert.Equal(t, f.folded(t, 0), loaded)
	assert.Equal(t, paid+flaky.lost, loaded.PaymentCount(), "the payments answered as appended and those stored before an error")
}

// ownedIn returns the owned state the cache holds for stream between two batches, leaving it
// there (a test's peek, not a reader's get).
func ownedIn(t *testing.T, h *Handlers, stream string) snapshot {
	t.Helper()
	h.cache.mu.Lock()
	defer h.cache.mu.Unlock()
	el, ok := h.cache.entries[stream]
	require.True(t, ok, "the cache holds %s", stream)
	o := entryOf(el).owned
	require.NotNil(t, o, "the cache holds an owned state of %s", stream)
	return o.snapshot()
}

// paymentsMap is the identity of the map a state keeps its payments in: the same when written
// in place.
func paymentsMap(a domain.AccountState) uintptr {
	return reflect.ValueOf(a).FieldByName("payments").FieldByName("byID").Pointer()
}

// TestANewLeaderWritesTheOwnedStateNoOneWasHanded: each command on a customer comes alone (a
// new leader and a new lock entry each time, as on distinct customers), and writes in place
// the state the last one left while no reader took it from the cache; once a reader has been
// handed that state, the next command copies what it writes, and what the reader holds stays
// the fold of the stream at its version.
func TestANewLeaderWritesTheOwnedStateNoOneWasHanded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	f := newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000012")
	h := f.handlers(t)
	f.register(t, h)
	pay := func() {
		t.Helper()
		_, d := f.payment(t)
		_, err := execute(ctx, h, f.meta(t), f.tgt, d)
		require.NoError(t, err)
		require.Zero(t, Streams(h), "the lock's entry is gone: the next command has a new leader")
	}
	pay() // the first write copies the registered state's maps, once
	before := stateOf[domain.AccountState](ownedIn(t, h, f.tgt.stream))
	for range 5 {
		pay()
	}
	owned := ownedIn(t, h, f.tgt.stream)
	assert.Equal(t, uint64(7), owned.version)
	assert.Equal(t, paymentsMap(before), paymentsMap(stateOf[domain.AccountState](owned)), "five new leaders wrote one map in place")

	read := h.cachedSnapshot(f.tgt.stream, domain.AccountState{}) // a reader takes the state
	held := stateOf[domain.AccountState](read)
	require.Equal(t, owned.version, read.version)
	require.Equal(t, 6, held.PaymentCount())
	for range 5 {
		pay()
	}
	after := stateOf[domain.AccountState](ownedIn(t, h, f.tgt.stream))
	assert.NotEqual(t, paymentsMap(held), paymentsMap(after), "the leader after the read copied the map")
	assert.Equal(t, 6, held.PaymentCount(), "the state the reader holds has none of the later payments")
	assert.Equal(t, f.folded(t, read.version), held, "the state the reader holds is the fold at its version")
	assert.Equal(t, 11, after.PaymentCount())
	assert.Equal(t, f.folded(t, 0), after)
}

// TestReadersNeverSeeALaterCommandsWrites: commands on a few customers, one at a time on each
// (new leaders taking the owned state from the cache), race readers that take states from the
// cache and load accounts and read every map of what they got; under -race a
// write in place into a state a reader holds is a data race, and afterwards every state read
// is still the fold of its stream at its version.
func TestReadersNeverSeeALaterCommandsWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	fixtures := []*accountFixture{
		newAccountFixture(t, "0190a2b4-0000-7000-8000-000000000013"),
	}
	f0 := fixtures[0]
	for _, c := range []string{"0190a2b4-0000-7000-8000-000000000014", "0190a2b4-0000-7000-8000-000000000015"} {
		f := *f0
		id, err := domain.ParseCustomerID(c)
		require.NoError(t, err)
		f.customer = id
		f.tgt = accountTarget(Meta{Tenant: f0.tenant}, id)
		fixtures = append(fixtures, &f)
	}
	h := f0.handlers(t)
	for _, f := range fixtures {
		f.register(t, h)
	}
	type held struct {
		f       *accountFixture
		state   domain.AccountState
		version uint64
	}
	var (
		mu    sync.Mutex
		reads []held
		wg    sync.WaitGroup
	)
	touch := func(a domain.AccountState) int { // reads every entry, as a reader may
		n := 0
		for p := range a.Payments() {
			n += len(p.ExternalReference)
		}
		for range a.Invoices {
			n++
		}
		return n
	}
	var writing sync.WaitGroup
	for _, f := range fixtures { // one writer per customer: each command a new leader, mostly
		writing.Add(1)
		go func() {
			defer writing.Done()
			for range 30 {
				_, d := f.payment(t)
				_, err := execute(ctx, h, f.meta(t), f.tgt, d)
				assert.NoError(t, err)
			}
		}()
	}
	done := make(chan struct{})
	for r := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				f := fixtures[(r+i)%len(fixtures)]
				var a domain.AccountState
				var v uint64
				if i%8 == 7 {
					var err error
					a, v, err = h.Account(ctx, f.tenant, f.customer)
					assert.NoError(t, err)
				} else {
					snap := h.cachedSnapshot(f.tgt.stream, domain.AccountState{})
					a, v = stateOf[domain.AccountState](snap), snap.version
				}
				touch(a)
				if i%4 == 0 {
					mu.Lock()
					reads = append(reads, held{f, a, v})
					mu.Unlock()
				}
			}
		}()
	}
	writing.Wait()
	close(done)
	wg.Wait()
	require.NotEmpty(t, reads)
	for _, r := range reads {
		if r.version == 0 {
			continue
		}
		touch(r.state)
		require.Equal(t, r.f.folded(t, r.version), r.state, "a state of %s read at version %d", r.f.customer, r.version)
	}
	for _, f := range fixtures {
		loaded, _, err := h.Account(ctx, f.tenant, f.customer)
		require.NoError(t, err)
		assert.Equal(t, f.folded(t, 0), loaded)
	}
}
