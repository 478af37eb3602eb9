package domain

import (
	"iter"
	"math"
	"time"
)

// paymentBook is how an account keeps its payments: without a pointer in any of them, so that
// the garbage collector never has to scan them. A customer paid every month for years, or a
// reseller paid thousands of times, holds as many payments in every cached account state as in
// its history; a PaymentState (its amounts, method, reference, received time and allocations)
// holds five pointers and the reference and the allocations apart, and marking them on every
// collection was a tenth of the command side's CPU.
//
// A payment is a paymentSlot in byID: its amounts in minor units, its received time in seconds
// and nanoseconds, its method as an index, and where its reference and its allocations lie in
// the two arrays every payment of the account appends to (text, allocs). A payment a slot
// cannot hold exactly (an amount whose minor units overflow int64, an allocation in another
// currency, a received time in another zone than UTC, a method the slot has no index for) is
// kept whole, as the PaymentState it is.
//
// The index by (method, reference) is keyed by a 64-bit hash of the two; a lookup compares the
// payment's own method and reference, and a reference whose hash another reference of the
// account took already goes to spill, keyed by the reference itself.
//
// The maps and the two arrays follow the account's rules for shared state (owned.go): a chain
// of applies writes its own copies in place, and the arrays are only ever appended to, so a
// state given to an apply still sees exactly what it saw.
type paymentBook struct {
	byID   map[PaymentID]paymentSlot
	whole  map[PaymentID]PaymentState
	refs   map[uint64]PaymentID
	spill  map[paymentRef]PaymentID
	text   []byte
	allocs []allocationSlot
}

// paymentSlot is a payment without pointers; see paymentBook.
type paymentSlot struct {
	amount, unapplied, refunded int64 // minor units of currency
	receivedSec                 int64
	receivedNsec                int32
	textAt, textLen             uint32 // the reference: text[textAt : textAt+textLen]
	allocsAt, allocsLen         uint32 // the allocations: allocs[allocsAt : allocsAt+allocsLen]
	method                      uint8  // 1 + the index in paymentMethods
	currency                    Currency
	whole                       bool // the payment is kept in whole instead
}

// allocationSlot is an allocation of a payment without pointers: its amount is in minor units
// of the payment's currency.
type allocationSlot struct {
	invoice InvoiceID
	units   int64
}

func slotMethod(m PaymentMethod) (uint8, bool) {
	for i, sm := range paymentMethods {
		if sm == m {
			return uint8(i + 1), true
		}
	}
	return 0, false
}

// paymentCopies holds what a chain of applies made of an account's payment book (owned.go).
type paymentCopies struct {
	byID   owned[PaymentID, paymentSlot]
	whole  owned[PaymentID, PaymentState]
	refs   owned[uint64, PaymentID]
	spill  owned[paymentRef, PaymentID]
	text   grown[byte]
	allocs grown[allocationSlot]
}

func (c *paymentCopies) commit() {
	c.byID.commit()
	c.whole.commit()
	c.refs.commit()
	c.spill.commit()
	c.text.commit()
	c.allocs.commit()
}

func (c *paymentCopies) rollback() {
	c.byID.rollback()
	c.whole.rollback()
	c.refs.rollback()
	c.spill.rollback()
	c.text.rollback()
	c.allocs.rollback()
}

func (b paymentBook) len() int { return len(b.byID) }

func (b paymentBook) has(id PaymentID) bool {
	_, ok := b.byID[id]
	return ok
}

// get returns payment id as a PaymentState.
func (b paymentBook) get(id PaymentID) (PaymentState, bool) {
	s, ok := b.byID[id]
	if !ok {
		return PaymentState{}, false
	}
	return b.state(id, s), true
}

// all yields every payment, in no particular order.
func (b paymentBook) all() iter.Seq[PaymentState] {
	return func(yield func(PaymentState) bool) {
		for id, s := range b.byID {
			if !yield(b.state(id, s)) {
				return
			}
		}
	}
}

func (b paymentBook) state(id PaymentID, s paymentSlot) PaymentState {
	if s.whole {
		return b.whole[id]
	}
	c := s.currency
	allocations := make([]Allocation, s.allocsLen)
	for i, al := range b.allocs[s.allocsAt : s.allocsAt+s.allocsLen] {
		allocations[i] = Allocation{InvoiceID: al.invoice, Amount: Money{units: al.units, currency: c}}
	}
	return PaymentState{
		ID:                id,
		Amount:            Money{units: s.amount, currency: c},
		Method:            paymentMethods[s.method-1],
		ExternalReference: string(b.text[s.textAt : s.textAt+s.textLen]),
		ReceivedAt:        time.Unix(s.receivedSec, int64(s.receivedNsec)).UTC(),
		Allocations:       allocations,
		Unapplied:         Money{units: s.unapplied, currency: c},
		Refunded:          Money{units: s.refunded, currency: c},
		Refundable:        Money{units: s.amount - s.refunded, currency: c},
	}
}

// withReference returns the payment recorded first with method m and reference ref.
func (b paymentBook) withReference(m PaymentMethod, ref string) (PaymentID, bool) {
	if id, ok := b.refs[referenceHash(m, ref)]; ok && b.hasReference(id, m, ref) {
		return id, true
	}
	id, ok := b.spill[paymentRef{method: m, reference: ref}]
	return id, ok
}

// hasReference reports whether payment id has method m and reference ref.
func (b paymentBook) hasReference(id PaymentID, m PaymentMethod, ref string) bool {
	s := b.byID[id]
	if s.whole {
		p := b.whole[id]
		return p.Method == m && p.ExternalReference == ref
	}
	return paymentMethods[s.method-1] == m && string(b.text[s.textAt:s.textAt+s.textLen]) == ref
}

// referenceHash is the 64-bit FNV-1a hash of the method's name, a zero byte and the reference.
func referenceHash(m PaymentMethod, ref string) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for i := range len(m.s) {
		h = (h ^ uint64(m.s[i])) * prime
	}
	h *= prime // the zero byte between the two
	for i := range len(ref) {
		h = (h ^ uint64(ref[i])) * prime
	}
	return h
}

// add records a new payment p and, if it has a reference not taken yet, indexes it.
func (b paymentBook) add(p PaymentState, c *paymentCopies, logged bool) paymentBook {
	s, ok := slotOf(p)
	if ok {
		s.textAt, s.textLen, ok = arrayRange(len(b.text), len(p.ExternalReference))
	}
	if ok {
		s.allocsAt, s.allocsLen, ok = arrayRange(len(b.allocs), len(p.Allocations))
	}
	if ok {
		b.text = appendOwned(b.text, &c.text, []byte(p.ExternalReference)...)
		for _, al := range p.Allocations {
			b.allocs = appendOwned(b.allocs, &c.allocs, allocationSlot{invoice: al.InvoiceID, units: al.Amount.units})
		}
	} else {
		s = paymentSlot{whole: true}
		b.whole = put(b.whole, p.ID, p, &c.whole, logged)
	}
	if p.ExternalReference != "" {
		if _, taken := b.withReference(p.Method, p.ExternalReference); !taken {
			b = b.index(p, c, logged)
		}
	}
	b.byID = put(b.byID, p.ID, s, &c.byID, logged)
	return b
}

// index makes p the payment of its method and reference.
func (b paymentBook) index(p PaymentState, c *paymentCopies, logged bool) paymentBook {
	h := referenceHash(p.Method, p.ExternalReference)
	if _, collides := b.refs[h]; collides {
		b.spill = put(b.spill, paymentRef{method: p.Method, reference: p.ExternalReference}, p.ID, &c.spill, logged)
		return b
	}
	b.refs = put(b.refs, h, p.ID, &c.refs, logged)
	return b
}

// refunded records p, a payment of the book, after a refund: only its refunded and refundable
// amounts changed, so its reference and allocations stay where they are.
func (b paymentBook) refunded(p PaymentState, c *paymentCopies, logged bool) paymentBook {
	old := b.byID[p.ID]
	if s, ok := slotOf(p); ok && !old.whole {
		s.textAt, s.textLen, s.allocsAt, s.allocsLen = old.textAt, old.textLen, old.allocsAt, old.allocsLen
		b.byID = put(b.byID, p.ID, s, &c.byID, logged)
		return b
	}
	if !old.whole { // its reference and allocations stay in the arrays, unread
		b.byID = put(b.byID, p.ID, paymentSlot{whole: true}, &c.byID, logged)
	}
	b.whole = put(b.whole, p.ID, p, &c.whole, logged)
	return b
}

// slotOf returns p as a slot, without its reference and allocations, if a slot holds it exactly.
func slotOf(p PaymentState) (paymentSlot, bool) {
	method, ok := slotMethod(p.Method)
	c := p.Amount.currency
	if !ok || p.Amount.isBig() || p.Unapplied.isBig() || p.Refunded.isBig() ||
		p.Unapplied.currency != c || p.Refunded.currency != c || p.ReceivedAt.Location() != time.UTC {
		return paymentSlot{}, false
	}
	for _, al := range p.Allocations {
		if al.Amount.isBig() || al.Amount.currency != c {
			return paymentSlot{}, false
		}
	}
	refundable, err := p.Amount.Sub(p.Refunded)
	if err != nil || !refundable.Equal(p.Refundable) || refundable.isBig() {
		return paymentSlot{}, false
	}
	return paymentSlot{
		amount: p.Amount.units, unapplied: p.Unapplied.units, refunded: p.Refunded.units,
		receivedSec: p.ReceivedAt.Unix(), receivedNsec: int32(p.ReceivedAt.Nanosecond()),
		method: method, currency: c,
	}, true
}

// arrayRange returns where n elements appended to an array of length at lie, if uint32 holds it.
func arrayRange(at, n int) (uint32, uint32, bool) {
	if uint64(at)+uint64(n) > math.MaxUint32 {
		return 0, 0, false
	}
	return uint32(at), uint32(n), true
}
