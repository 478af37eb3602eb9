package commands

import (
	"container/list"
	"fmt"
	"sync"

	"github.com/dotmac/ledger/eventstore"
)

// snapshot is a stream folded up to version: the aggregate state (a domain state value, such
// as domain.AccountState) and the global position of its last event. A snapshot is never
// modified once built; later events produce a new one.
type snapshot struct {
	state    any
	version  uint64
	position eventstore.Position
}

// ownedSnapshot is a state with its owner (ownedState[S], batch.go): a state whose maps the
// owner writes in place, so it must be handed to no one while it may be written.
type ownedSnapshot interface{ snapshot() snapshot }

// stateCache is a bounded LRU of snapshots by stream id. Sharing a snapshot between goroutines
// is safe because domain Apply never modifies the state it is given, and an owned state
// (ownedState, batch.go) is never handed to a reader while its owner may still write it.
//
// An entry holds a shared snapshot (snap: never written again, whoever holds it) and, for an
// aggregate with an owner, the stream's owned state between two batches (owned), which no one
// but the cache holds. The stream's next leader takes the owned state (take) and writes it in
// place, as the batch before it did: so a batch on a customer costs O(its events), not a copy
// of the customer's every payment, even when each batch has a new leader (distinct customers).
// A reader (get) is handed the owned state only with its ownership: the owner is dropped and
// the state becomes the entry's shared snapshot, so the next leader copies what it writes.
// While a leader holds the owned state, readers get the shared snapshot, which may be older:
// they read the stream after it (load), as after any cached snapshot. An idle stream's entry
// holds no shared snapshot beside its owned state (one state per stream, not two); a reader
// that comes while a leader holds it may wait for it to come back (getOrWait) rather than
// read the whole stream.
type stateCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // front: most recently used; values are *cacheEntry
	entries  map[string]*list.Element
}

type cacheEntry struct {
	stream string
	snap   snapshot      // shared; version 0 when the entry holds only an owned state
	owned  ownedSnapshot // the owned state between two batches, or nil
	taken  bool          // a leader took the owned state and has not given it back
	back   chan struct{} // closed when it is given back (or the entry changes); nil: no one waits
}

// wake closes the channel readers wait on for e's owned state; c.mu is held.
func (e *cacheEntry) wake() {
	if e.back != nil {
		close(e.back)
		e.back = nil
	}
}

// newStateCache returns a cache of at most capacity streams; capacity < 1 caches nothing.
func newStateCache(capacity int) *stateCache {
	return &stateCache{capacity: capacity, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the stream's latest snapshot a reader may hold, if cached. An owned state at
// least as recent as the shared snapshot is handed over with its ownership: it is the shared
// snapshot from then on, and no owner writes it again.
func (c *stateCache) get(stream string) (snapshot, bool) {
	s, ok, _ := c.lookup(stream, false)
	return s, ok
}

// getOrWait is get, and when the entry has no snapshot a reader may hold because a leader
// holds its owned state, a channel closed when the leader gives it back (back is nil
// otherwise): waiting for it costs the reader the leader's append, where reading the stream
// from its start costs every event of the stream.
func (c *stateCache) getOrWait(stream string) (s snapshot, ok bool, back <-chan struct{}) {
	return c.lookup(stream, true)
}

// lookup is get, and with wait getOrWait, under one lock.
func (c *stateCache) lookup(stream string, wait bool) (snapshot, bool, <-chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[stream]
	if !ok {
		return snapshot{}, false, nil
	}
	c.order.MoveToFront(el)
	e := entryOf(el)
	if e.owned != nil {
		if s := e.owned.snapshot(); s.version >= e.snap.version {
			e.snap = s
		}
		e.owned = nil // the owner is dropped: the state it wrote is shared
	}
	if e.snap.version > 0 || !wait || !e.taken {
		return e.snap, e.snap.version > 0, nil
	}
	if e.back == nil {
		e.back = make(chan struct{})
	}
	return snapshot{}, false, e.back
}

// take returns what a stream's leader starts a batch from: the owned state, if the entry holds
// one at least as recent as its shared snapshot (the leader then owns it, until it gives it
// back), else the shared snapshot (ok false when the entry holds none).
func (c *stateCache) take(stream string) (shared snapshot, owned ownedSnapshot, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, found := c.entries[stream]
	if !found {
		return snapshot{}, nil, false
	}
	c.order.MoveToFront(el)
	e := entryOf(el)
	owned, e.owned = e.owned, nil
	if owned != nil && owned.snapshot().version < e.snap.version {
		owned = nil // behind a state read from the store: dropped
	}
	e.taken = owned != nil
	return e.snap, owned, e.snap.version > 0
}

// giveBack stores o, the owned state a leader took or made, for the stream's next leader: the
// leader hands it to no one else and writes it no more. It is dropped if the entry's shared
// snapshot is later. An older shared snapshot is kept only when keepShared (the stream is
// busy: its readers then fold a tail after it while a leader holds o); else it is dropped, so
// that an idle stream's entry holds one state, not two (a reader that comes while the next
// leader holds o then reads the stream from its start, as for an uncached one).
func (c *stateCache) giveBack(stream string, o ownedSnapshot, keepShared bool) {
	if c.capacity < 1 || o.snapshot().version == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[stream]; ok {
		e := entryOf(el)
		e.owned, e.taken = nil, false
		defer e.wake()
		if v := o.snapshot().version; v >= e.snap.version {
			e.owned = o
			if v > e.snap.version && !keepShared {
				e.snap = snapshot{}
			}
		}
		c.order.MoveToFront(el)
		return
	}
	c.insert(&cacheEntry{stream: stream, owned: o})
}

// put stores s, a shared snapshot, unless the cache already holds a later version of the
// stream. An owned state it holds stays, to be dropped by get or take if s is later.
func (c *stateCache) put(stream string, s snapshot) {
	if c.capacity < 1 || s.version == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[stream]; ok {
		e := entryOf(el)
		if e.snap.version < s.version {
			e.snap = s
			e.wake()
		}
		c.order.MoveToFront(el)
		return
	}
	c.insert(&cacheEntry{stream: stream, snap: s})
}

// insert adds e as the most recently used entry and evicts the least recently used beyond
// capacity; c.mu is held.
func (c *stateCache) insert(e *cacheEntry) {
	c.entries[e.stream] = c.order.PushFront(e)
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, entryOf(oldest).stream)
		entryOf(oldest).wake()
	}
}

// entryOf returns the entry of a list element; the list holds nothing else.
func entryOf(el *list.Element) *cacheEntry {
	e, ok := el.Value.(*cacheEntry)
	if !ok {
		panic("invariant: the state cache holds a foreign value")
	}
	return e
}

// stateOf returns the state of s as S; a stream only ever holds one state type.
func stateOf[S any](s snapshot) S {
	st, ok := s.state.(S)
	if !ok {
		panic(fmt.Sprintf("invariant: snapshot holds %T, not %T", s.state, *new(S)))
	}
	return st
}

// len returns the number of cached streams.
func (c *stateCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// streamLocks serializes the commands of one stream inside this process, so that concurrent
// requests for the same customer queue up instead of racing to the same version and retrying.
// Commands of other processes still race; the expected-version append settles those.
//
// Each stream's entry also holds its queue of commands waiting for the lock: the holder of
// the lock takes every command queued at that moment and runs them as one batch (batch.go),
// so a busy stream gets one append per round trip for all its waiting commands, not one each.
type streamLocks struct {
	mu    sync.Mutex
	locks map[string]*streamLock
}

type streamLock struct {
	held chan struct{} // holds one token while locked
	refs int           // guarded by streamLocks.mu

	qmu     sync.Mutex
	waiting []any // *request[S] of the stream's state type S, in arrival order
}

func newStreamLocks() *streamLocks {
	return &streamLocks{locks: map[string]*streamLock{}}
}

// join returns stream's entry, kept alive until release is called.
func (s *streamLocks) join(stream string) (l *streamLock, release func()) {
	s.mu.Lock()
	l = s.locks[stream]
	if l == nil {
		l = &streamLock{held: make(chan struct{}, 1)}
		s.locks[stream] = l
	}
	l.refs++
	s.mu.Unlock()
	return l, func() {
		s.mu.Lock()
		if l.refs--; l.refs == 0 {
			delete(s.locks, stream)
		}
		s.mu.Unlock()
	}
}

func (l *streamLock) unlock() { <-l.held }

// busy reports whether callers other than the one holding l's lock have joined it: more
// commands of the stream are coming.
func (s *streamLocks) busy(l *streamLock) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return l.refs > 1
}

// enqueue adds r to the stream's waiting commands.
func (l *streamLock) enqueue(r any) {
	l.qmu.Lock()
	l.waiting = append(l.waiting, r)
	l.qmu.Unlock()
}

// withdraw removes r from the waiting commands, if no batch has taken it yet.
func (l *streamLock) withdraw(r any) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	for i, w := range l.waiting {
		if w == r {
			l.waiting = append(l.waiting[:i], l.waiting[i+1:]...)
			return
		}
	}
}

// take removes and returns up to limit waiting commands, oldest first.
func (l *streamLock) take(limit int) []any {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	n := min(limit, len(l.waiting))
	out := make([]any, n)
	copy(out, l.waiting[:n])
	l.waiting = append(l.waiting[:0], l.waiting[n:]...)
	return out
}
