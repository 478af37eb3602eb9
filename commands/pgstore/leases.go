package pgstore

import (
	"sync"
	"time"

	"github.com/google/uuid"
)

// claimRef names one claim: a key and the command id it was claimed for.
type claimRef struct {
	tenant, key string
	commandID   uuid.UUID
}

// tenantKey is a (tenant, Idempotency-Key) pair: one row, one claim at a time.
type tenantKey struct{ tenant, key string }

// keptRelease is a release an outage kept Keys from writing: the claim, its lease (the
// locked_until this process gave it) and whether the command certainly appended nothing.
type keptRelease struct {
	ref      claimRef
	lease    time.Time
	definite bool
}

// leases is what Keys remembers of its own claims: the lease it gave each (every later write
// to a claim applies only while the row still carries that lease, so a claim another request
// took over is never touched), and the releases it could not write yet. Safe for concurrent
// use; each kept release is taken by one caller only (the releaser or one retry).
type leases struct {
	mu     sync.Mutex
	held   map[claimRef]time.Time
	kept   map[tenantKey]keptRelease
	wakeup chan struct{} // signalled when a release is kept
}

func newLeases() *leases {
	return &leases{held: map[claimRef]time.Time{}, kept: map[tenantKey]keptRelease{}, wakeup: make(chan struct{}, 1)}
}

// hold records the lease of a claim this process holds.
func (l *leases) hold(ref claimRef, lease time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held[ref] = lease
}

// drop forgets the lease of ref and returns it (zero when unknown).
func (l *leases) drop(ref claimRef) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	lease := l.held[ref]
	delete(l.held, ref)
	return lease
}

// keep records a release to write once the database answers.
func (l *leases) keep(r keptRelease) {
	l.mu.Lock()
	l.kept[tenantKey{r.ref.tenant, r.ref.key}] = r
	l.mu.Unlock()
	select {
	case l.wakeup <- struct{}{}:
	default:
	}
}

// take removes the kept release of tenant's key and returns it: only one caller gets it.
func (l *leases) take(tenant, key string) (keptRelease, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	tk := tenantKey{tenant, key}
	r, ok := l.kept[tk]
	delete(l.kept, tk)
	return r, ok
}

// keptKeys lists the keys with a kept release.
func (l *leases) keptKeys() []tenantKey {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]tenantKey, 0, len(l.kept))
	for tk := range l.kept {
		out = append(out, tk)
	}
	return out
}

// keptCount is how many releases wait to be written.
func (l *leases) keptCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.kept)
}

// pruneHeld forgets leases that ran out before now (claims whose answer was never written:
// they lapse by themselves), so that held stays bounded.
func (l *leases) pruneHeld(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for ref, lease := range l.held {
		if lease.Before(now) {
			delete(l.held, ref)
		}
	}
}
