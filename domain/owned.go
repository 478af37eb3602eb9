package domain

import (
	"maps"
	"reflect"
	"slices"
)

// A state's maps are shared by every state built from it, so an apply must never write to a
// map it was given. Copying each map on every write made folding a stream of n events that
// touch one map O(n²) (a customer with n payments, a billing run with n customers). A chain of
// applies (a fold, an AccountApplier) therefore copies each map once, at its first write, and
// writes its own copy in place afterwards: the states it was given stay unchanged.
//
// An AccountOwner goes one step further for a busy stream: it keeps its maps across many
// chains of applies (the batches of one stream), so a batch costs O(its events), not a copy
// of the customer's every payment; in exchange it logs each in-place write so that Rollback
// can undo the writes of a batch whose append failed.

// AccountApplier applies events to a chain of account states: each Apply takes the state the
// previous one returned. It copies a map the first time it writes to it and writes its own
// copies in place afterwards, so n events cost O(n) map writes, not n copies of growing maps.
// It never modifies a map it did not create; a state it returned stays valid until the next
// Apply that writes to it. The zero value is ready to use; it is not safe for concurrent use.
type AccountApplier struct{ copies accountCopies }

// Apply applies events to a in order, as ApplyAccount does one by one, and returns the new
// state. On error it returns a and a *FoldError wrapping ErrInvariant; a state this applier
// returned before may then hold the writes of the events before the failing one: discard
// them and the applier.
func (p *AccountApplier) Apply(a AccountState, events ...Event) (AccountState, error) {
	next, err := fold(a, events, func(a AccountState, e Event) (AccountState, error) {
		return applyAccountOwned(a, e, &p.copies)
	})
	if err != nil {
		return a, err
	}
	return next, nil
}

// AccountOwner is an AccountApplier that can take back its writes. It owns the maps of the
// states it returns and writes them in place on every later Apply, across Commits, so its
// states must never be shared with anyone who reads them while it applies. Commit marks the
// states returned so far as kept; Rollback undoes every write since the last Commit (or since
// the owner was made), so the last state returned before that Commit, and every state it was
// given, are exactly as they were. It never modifies a map it did not create. The zero value
// is ready to use; it is not safe for concurrent use.
//
// So a stream's batches, run one at a time by the stream's leader, keep one state: each batch
// applies its commands' events in place (O(batch), where a copy of the state per batch is
// O(customer's payments)), then Commits if its append succeeded and Rolls back otherwise.
type AccountOwner struct{ copies accountCopies }

// Apply applies events to a in order, as ApplyAccount does one by one, and returns the new
// state. On error it returns a and a *FoldError wrapping ErrInvariant; the states returned
// since the last Commit may then hold the writes of the events before the failing one:
// Rollback.
func (o *AccountOwner) Apply(a AccountState, events ...Event) (AccountState, error) {
	o.copies.logged = true
	next, err := fold(a, events, func(a AccountState, e Event) (AccountState, error) {
		return applyAccountOwned(a, e, &o.copies)
	})
	if err != nil {
		return a, err
	}
	return next, nil
}

// Commit keeps the writes made so far: a later Rollback returns to this point.
func (o *AccountOwner) Commit() {
	c := &o.copies
	c.invoices.commit()
	c.payments.commit()
	c.creditNotes.commit()
	c.billedPeriods.commit()
}

// Rollback undoes every write since the last Commit: every state returned before it, and every
// state given to Apply since, holds again exactly what it held then.
func (o *AccountOwner) Rollback() {
	c := &o.copies
	c.invoices.rollback()
	c.payments.rollback()
	c.creditNotes.rollback()
	c.billedPeriods.rollback()
}

// accountCopies holds the maps a chain of applies made (and so may write in place).
type accountCopies struct {
	invoices      owned[InvoiceID, InvoiceState]
	payments      paymentCopies
	creditNotes   owned[CreditNoteID, CreditNoteState]
	billedPeriods owned[Period, InvoiceID]
	// logged: log the writes into maps kept at the last commit, for rollback (AccountOwner).
	logged bool
}

// owned is a map a chain made, which it writes in place, with what rollback needs: the map kept
// at the last commit and the log of the in-place writes to that map since.
type owned[K comparable, V any] struct {
	m    map[K]V
	kept map[K]V
	log  []undo[K, V]
}

// undo is an in-place write taken back: k held v (had) or was absent (!had).
type undo[K comparable, V any] struct {
	k   K
	v   V
	had bool
}

func (o *owned[K, V]) commit() {
	o.kept = o.m
	clear(o.log)
	o.log = o.log[:0]
}

func (o *owned[K, V]) rollback() {
	for i := len(o.log) - 1; i >= 0; i-- {
		u := o.log[i]
		if u.had {
			o.kept[u.k] = u.v
		} else {
			delete(o.kept, u.k)
		}
	}
	o.m = o.kept // a map copied since the commit is dropped: no state kept holds it
	clear(o.log)
	o.log = o.log[:0]
}

// put sets m[k] = v and returns the map written: m itself when o owns it, else a copy of m,
// which o owns from then on. When logged, a write into the map kept at the last commit is
// logged first, so that rollback can take it back.
func put[K comparable, V any](m map[K]V, k K, v V, o *owned[K, V], logged bool) map[K]V {
	if !sameMap(m, o.m) {
		out := make(map[K]V, len(m)+1)
		maps.Copy(out, m)
		m, o.m = out, out
	} else if logged && sameMap(m, o.kept) {
		old, had := m[k]
		o.log = append(o.log, undo[K, V]{k: k, v: old, had: had})
	}
	m[k] = v
	return m
}

// sameMap reports whether a and b are the same non-nil map.
func sameMap[K comparable, V any](a, b map[K]V) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// grown is an array a chain made, which it appends to in place, with the length it had at the
// last commit. Only what lies past the length of a state's slice is ever written, so every
// state built before an append still sees exactly what it saw.
type grown[T any] struct {
	s    []T
	kept []T
}

func (g *grown[T]) commit() { g.kept = g.s }

// rollback returns to the array as it was at the last commit: what was appended since lies past
// the length of every state kept, and the next append writes over it.
func (g *grown[T]) rollback() { g.s = g.kept }

// appendOwned appends items to s and returns the slice written: s itself, grown in place, when
// it is the last slice g returned, else a copy of s, which g owns from then on. A state holding
// an earlier, shorter slice of the same array is never written: its length ends before the
// appended items.
func appendOwned[T any](s []T, g *grown[T], items ...T) []T {
	if len(items) == 0 {
		return s
	}
	if !sameTip(s, g.s) {
		s = slices.Clip(s) // so append copies it into a new array
	}
	s = append(s, items...)
	g.s = s
	return s
}

// sameTip reports whether a and b are the same non-empty slice of the same array.
func sameTip[T any](a, b []T) bool {
	return len(a) == len(b) && cap(a) == cap(b) && cap(a) > 0 && &a[:cap(a)][0] == &b[:cap(b)][0]
}
