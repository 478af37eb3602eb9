package domain

import (
	"maps"
	"reflect"
)

// A state's maps are shared by every state built from it, so an apply must never write to a
// map it was given. Copying each map on every write made folding a stream of n events that
// touch one map O(n²) (a customer with n payments, a billing run with n customers). A chain of
// applies (a fold, an AccountApplier) therefore copies each map once, at its first write, and
// writes its own copy in place afterwards: the states it was given stay unchanged.

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

// accountCopies holds the maps a chain of applies made (and so may write in place).
type accountCopies struct {
	invoices      map[InvoiceID]InvoiceState
	payments      map[PaymentID]PaymentState
	creditNotes   map[CreditNoteID]CreditNoteState
	billedPeriods map[Period]InvoiceID
}

// put sets m[k] = v and returns the map written: m itself when it is *owned, the map this
// chain made, else a copy of m, which becomes *owned.
func put[K comparable, V any](m map[K]V, k K, v V, owned *map[K]V) map[K]V {
	if !sameMap(m, *owned) {
		out := make(map[K]V, len(m)+1)
		maps.Copy(out, m)
		m, *owned = out, out
	}
	m[k] = v
	return m
}

// sameMap reports whether a and b are the same non-nil map.
func sameMap[K comparable, V any](a, b map[K]V) bool {
	return a != nil && b != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}
