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

// stateCache is a bounded LRU of snapshots by stream id. Sharing a snapshot between goroutines
// is safe because domain Apply never modifies the state it is given, and a batch's owned state
// (ownedState, batch.go) enters the cache only with its ownership: it is never written again.
type stateCache struct {
	mu       sync.Mutex
	capacity int
	order    *list.List // front: most recently used; values are *cacheEntry
	entries  map[string]*list.Element
}

type cacheEntry struct {
	stream string
	snap   snapshot
}

// newStateCache returns a cache of at most capacity streams; capacity < 1 caches nothing.
func newStateCache(capacity int) *stateCache {
	return &stateCache{capacity: capacity, order: list.New(), entries: map[string]*list.Element{}}
}

// get returns the stream's snapshot, if cached.
func (c *stateCache) get(stream string) (snapshot, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[stream]
	if !ok {
		return snapshot{}, false
	}
	c.order.MoveToFront(el)
	return entryOf(el).snap, true
}

// put stores s unless the cache already holds a later version of the stream.
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
		}
		c.order.MoveToFront(el)
		return
	}
	c.entries[stream] = c.order.PushFront(&cacheEntry{stream: stream, snap: s})
	for c.order.Len() > c.capacity {
		oldest := c.order.Back()
		c.order.Remove(oldest)
		delete(c.entries, entryOf(oldest).stream)
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
//
// The entry also keeps the state the stream's last batch left, when its aggregate has an owner
// (ownedState, batch.go): the next batch writes it in place instead of copying the cached one.
// When the last caller leaves, that state goes to the cache.
type streamLocks struct {
	mu    sync.Mutex
	locks map[string]*streamLock
	cache *stateCache
}

type streamLock struct {
	held chan struct{} // holds one token while locked
	refs int           // guarded by streamLocks.mu
	// owned is the stream's ownedState[S], or nil: read and written by the holder of the lock
	// only, and by the last caller to leave (then no one holds the lock).
	owned interface{ snapshot() snapshot }

	qmu     sync.Mutex
	waiting []any // *request[S] of the stream's state type S, in arrival order
}

func newStreamLocks(cache *stateCache) *streamLocks {
	return &streamLocks{locks: map[string]*streamLock{}, cache: cache}
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
			if l.owned != nil {
				// No one holds the lock or can take it: the owner is dropped with the entry,
				// so its state is shared from now on, and never written again.
				s.cache.put(stream, l.owned.snapshot())
			}
		}
		s.mu.Unlock()
	}
}

func (l *streamLock) unlock() { <-l.held }

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
