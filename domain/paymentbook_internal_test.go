package domain

import (
	"maps"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// TestPaymentSlotsHoldNoPointers: what an account keeps per payment (the payment map's key and
// value, the allocations' elements; the other keys are a uint64 and the text bytes) holds no
// pointer, so the collector never scans it. A field with a pointer added to a slot would bring
// back the cost the book removed.
func TestPaymentSlotsHoldNoPointers(t *testing.T) {
	for _, typ := range []reflect.Type{reflect.TypeFor[PaymentID](), reflect.TypeFor[paymentSlot](), reflect.TypeFor[allocationSlot]()} {
		if path, ok := pointerIn(typ, typ.String()); ok {
			t.Errorf("%s holds a pointer: %s", typ, path)
		}
	}
}

// pointerIn returns the path to a pointer in typ, if it has one.
func pointerIn(typ reflect.Type, path string) (string, bool) {
	switch typ.Kind() {
	case reflect.Struct:
		for i := range typ.NumField() {
			f := typ.Field(i)
			if p, ok := pointerIn(f.Type, path+"."+f.Name); ok {
				return p, true
			}
		}
		return "", false
	case reflect.Array:
		return pointerIn(typ.Elem(), path+"[]")
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return "", false
	}
	return path + " (" + typ.Kind().String() + ")", true
}

// TestPaymentBookGivesBackWhatItWasGiven: every payment added, whether a slot holds it or it is
// kept whole (amounts past int64 minor units, allocations in another currency, a received time
// in another zone), comes back exactly; so does every refund; the index by reference names the
// first payment of each reference; a book another chain made is never written; and an owner's
// rollback returns to the book it kept at its last commit.
func TestPaymentBookGivesBackWhatItWasGiven(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		first := map[paymentRef]PaymentID{}
		want := map[PaymentID]PaymentState{}
		next := 0
		steps := func(b paymentBook, c *paymentCopies, logged bool, label string, kept func(paymentBook)) paymentBook {
			for range rapid.IntRange(0, 10).Draw(t, label) {
				if len(want) > 0 && rapid.Bool().Draw(t, "refund") {
					p := want[rapid.SampledFrom(sortedIDs(want)).Draw(t, "refunded")]
					p.Refunded = drawMoney(t, "refunded amount", p.Amount.currency)
					p.Refundable, _ = p.Amount.Sub(p.Refunded)
					b, want[p.ID] = b.refunded(p, c, logged), p
				} else {
					next++
					p := drawPayment(t, next)
					if ref := (paymentRef{p.Method, p.ExternalReference}); ref.reference != "" {
						if _, taken := first[ref]; !taken {
							first[ref] = p.ID
						}
					}
					b, want[p.ID] = b.add(p, c, logged), p
				}
				if logged && rapid.Bool().Draw(t, "commit") {
					c.commit()
					kept(b)
				}
			}
			return b
		}
		var c0 paymentCopies
		base := steps(paymentBook{}, &c0, false, "base payments", nil)
		baseWant, baseFirst := maps.Clone(want), maps.Clone(first)

		// Another chain from the same book first: its arrays must not be the ones the next writes.
		var c2 paymentCopies
		other := steps(base, &c2, false, "another chain's payments", nil)
		otherWant, otherFirst := want, first
		want, first = maps.Clone(baseWant), maps.Clone(baseFirst)

		var c paymentCopies
		logged := rapid.Bool().Draw(t, "logged")
		var keptBook paymentBook
		var keptWant map[PaymentID]PaymentState
		var keptFirst map[paymentRef]PaymentID
		keep := func(b paymentBook) { keptBook, keptWant, keptFirst = b, maps.Clone(want), maps.Clone(first) }
		keep(base)
		b := steps(base, &c, logged, "more payments", keep)

		checkBook(t, b, want, first)
		checkBook(t, base, baseWant, baseFirst)
		checkBook(t, other, otherWant, otherFirst)
		if logged {
			c.rollback()
			checkBook(t, keptBook, keptWant, keptFirst)
			want, first = keptWant, keptFirst
			more := steps(keptBook, &c, logged, "after the rollback", keep)
			checkBook(t, more, want, first)
			checkBook(t, base, baseWant, baseFirst)
		}
	})
}

// TestPaymentBookReferencesThatCollide: a reference whose hash another reference took is
// indexed apart and found; the first payment of each still wins.
func TestPaymentBookReferencesThatCollide(t *testing.T) {
	var c paymentCopies
	var b paymentBook
	a := PaymentState{ID: testPaymentID(1), Amount: usd(t, "10"), Method: PaymentMethodCard, ExternalReference: "ch_a", ReceivedAt: time.Unix(0, 0).UTC(),
		Unapplied: usd(t, "10"), Refunded: usd(t, "0"), Refundable: usd(t, "10")}
	b = b.add(a, &c, false)
	// "ch_b" collides with "ch_a": its hash names payment a.
	b.refs = put(b.refs, referenceHash(PaymentMethodCard, "ch_b"), a.ID, &c.refs, false)
	if _, ok := b.withReference(PaymentMethodCard, "ch_b"); ok {
		t.Fatal("a colliding reference was taken for the payment its hash names")
	}
	p := a
	p.ID, p.ExternalReference = testPaymentID(2), "ch_b"
	b = b.add(p, &c, false)
	again := p
	again.ID = testPaymentID(3)
	b = b.add(again, &c, false)
	for ref, want := range map[string]PaymentID{"ch_a": a.ID, "ch_b": p.ID} {
		if id, ok := b.withReference(PaymentMethodCard, ref); !ok || id != want {
			t.Errorf("%s: %s (%v), want %s", ref, id, ok, want)
		}
	}
	if len(b.spill) != 1 {
		t.Errorf("spill holds %d references, want 1", len(b.spill))
	}
}

// checkBook fails unless b holds exactly the payments of want and indexes the references of
// first (if given) by the payment given first with each.
func checkBook(t *rapid.T, b paymentBook, want map[PaymentID]PaymentState, first map[paymentRef]PaymentID) {
	if b.len() != len(want) {
		t.Fatalf("%d payments, want %d", b.len(), len(want))
	}
	n := 0
	for p := range b.all() {
		n++
		if w := want[p.ID]; !samePayment(p, w) {
			t.Fatalf("payment %s:\n got %+v\nwant %+v", p.ID, p, w)
		}
	}
	if n != len(want) {
		t.Fatalf("all yielded %d payments, want %d", n, len(want))
	}
	for ref, id := range first {
		if got, ok := b.withReference(ref.method, ref.reference); !ok || got != id {
			t.Fatalf("reference %s/%q: %s (%v), want %s", ref.method, ref.reference, got, ok, id)
		}
	}
	if _, ok := b.withReference(PaymentMethodCash, "never given"); ok {
		t.Fatal("a reference never given was found")
	}
}

func samePayment(a, b PaymentState) bool {
	if len(a.Allocations) == 0 && len(b.Allocations) == 0 {
		a.Allocations, b.Allocations = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

func drawPayment(t *rapid.T, i int) PaymentState {
	c := rapid.SampledFrom([]Currency{mustCurrency("USD"), mustCurrency("BHD"), mustCurrency("JPY")}).Draw(t, "currency")
	received := time.Unix(rapid.Int64Range(-1e10, 1e10).Draw(t, "received"), rapid.Int64Range(0, 999_999_999).Draw(t, "nanoseconds")).UTC()
	if rapid.IntRange(0, 9).Draw(t, "zone") == 0 {
		received = received.In(time.FixedZone("X", 3600))
	}
	p := PaymentState{
		ID:                testPaymentID(i + 1),
		Amount:            drawMoney(t, "amount", c),
		Method:            rapid.SampledFrom(paymentMethods[:]).Draw(t, "method"),
		ExternalReference: rapid.SampledFrom([]string{"", "ch_1", "ch_2", "ref-ü"}).Draw(t, "reference"),
		ReceivedAt:        received,
		Unapplied:         drawMoney(t, "unapplied", c),
		Refunded:          Zero(c),
	}
	p.Refundable = p.Amount
	for j := range rapid.IntRange(0, 3).Draw(t, "allocations") {
		al := Allocation{InvoiceID: testInvoiceID(j + 1), Amount: drawMoney(t, "allocated", c)}
		if rapid.IntRange(0, 9).Draw(t, "foreign") == 0 {
			al.Amount = Zero(mustCurrency("EUR"))
		}
		p.Allocations = append(p.Allocations, al)
	}
	return p
}

func drawMoney(t *rapid.T, label string, c Currency) Money {
	return moneyOf(decimal.NewFromBigInt(drawMinorUnits(t, label), -c.MinorUnits()), c)
}

func usd(t *testing.T, s string) Money {
	m, err := ParseMoney(s, "USD")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustCurrency(code string) Currency {
	c, err := ParseCurrency(code)
	if err != nil {
		panic(err)
	}
	return c
}

func testPaymentID(n int) PaymentID { return ID[paymentKind]{u: testUUID(n)} }
func testInvoiceID(n int) InvoiceID { return ID[invoiceKind]{u: testUUID(n)} }

func testUUID(n int) uuid.UUID {
	u := uuid.MustParse("01890a5d-ac96-774b-bcce-b302099a8057")
	u[15] = byte(n)
	u[14] = byte(n >> 8)
	return u
}

func sortedIDs(m map[PaymentID]PaymentState) []PaymentID {
	ids := make([]PaymentID, 0, len(m))
	for id := range m {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, PaymentID.Compare)
	return ids
}
