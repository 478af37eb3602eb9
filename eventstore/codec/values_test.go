package codec

import (
	"encoding/json"
	"reflect"
	"strconv"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// FuzzPlainString: whenever plainString takes the start of the input, encoding/json decodes
// the bytes it took to the same string.
func FuzzPlainString(f *testing.F) {
	for _, s := range []string{`"USD"`, `"2026-01-10",`, `"a\"b"`, `"é"`, "\"\xff\"", `""`, `"tab	"`, `null`, `"x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		inner, n, ok := plainString(data)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(data[:n], &want); err != nil || want != string(inner) {
			t.Fatalf("plainString(%q) = %q, encoding/json gives %q (%v)", data, inner, want, err)
		}
	})
}

// FuzzQuotedUUID: whenever the fast path accepts bytes, they are a JSON string holding the
// canonical form of the UUID it returns, as the general path requires.
func FuzzQuotedUUID(f *testing.F) {
	for _, s := range []string{`"01a23af8-256d-703d-969f-c72b215e96bb"`, `"01A23AF8-256D-703D-969F-C72B215E96BB"`,
		`"01a23af8256d703d969fc72b215e96bb"`, `"{01a23af8-256d-703d-969f-c72b215e96bb}"`, `null`, `"01a23af8-256d-703d-969f-c72b215e96b"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := quotedUUID(data)
		if !ok {
			return
		}
		var s string
		if err := json.Unmarshal(data, &s); err != nil {
			t.Fatalf("quotedUUID(%q) accepted what is not a JSON string: %v", data, err)
		}
		want, err := uuid.Parse(s)
		if err != nil || want != got || want.String() != s {
			t.Fatalf("quotedUUID(%q) = %s; uuid.Parse gives %s (%v), canonical %q", data, got, want, err, want.String())
		}
	})
}

// FuzzQuickMoney: whenever the fast path accepts bytes, Money's UnmarshalJSON decodes them to
// the same amount (same scale) and currency.
func FuzzQuickMoney(f *testing.F) {
	for _, s := range []string{`{"amount":"79.99","currency":"USD"}`, `{"amount":"-0.5","currency":"EUR"}`,
		`{"amount":"100","currency":"JPY"}`, `{"amount":"1.2345","currency":"BHD"}`, `{"amount":"01","currency":"USD"}`,
		`{"amount":"1.","currency":"USD"}`, `{"amount":"-","currency":"USD"}`, `{"amount":"999999999999999999","currency":"JPY"}`,
		`{"amount":"1","currency":"usd"}`, `{"amount":"0.001","currency":"KWD"}`, `{"amount":"-0.00","currency":"USD"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := quickMoney(data)
		if !ok {
			return
		}
		var want domain.Money
		err := want.UnmarshalJSON(data)
		if err != nil || !got.Equal(want) || got.Amount().Exponent() != want.Amount().Exponent() ||
			got.Amount().String() != want.Amount().String() {
			t.Fatalf("quickMoney(%q) = %v (exp %d); UnmarshalJSON gives %v (exp %d, %v)", data, got,
				got.Amount().Exponent(), want, want.Amount().Exponent(), err)
		}
	})
}

// FuzzValueReaders: whenever a value reader takes the start of the input, the bytes it took
// are one valid JSON value that the type's UnmarshalJSON decodes to the same value.
func FuzzValueReaders(f *testing.F) {
	for _, s := range []string{`{"amount":"79.99","currency":"USD"},"x":1`, `{"amount":"79.99","currency":"USD"`,
		`"01a23af8-256d-703d-969f-c72b215e96bb","next"`, `"2026-01-10"}`, `"2026-02-30"`, `"2026-01"]`, `"2026-13"`,
		`"0000-01-01"`, `{"amount":"1"}`, `"2026-1-10"`, `"USD",`, `"usd"`, `"acme-1"`, `"fiber_100"`, `"0.075"`,
		`"2.5"`, `"card"`, `"non_payment"`, `"a\u0062"`, `null`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		for typ, read := range valueReaders {
			p := reflect.New(typ)
			n, ok := read(data, p.Interface())
			if !ok {
				continue
			}
			if n <= 0 || n > len(data) || !json.Valid(data[:n]) {
				t.Fatalf("%s reader on %q: took %d bytes, not one JSON value", typ, data, n)
			}
			want := reflect.New(typ)
			u, _ := want.Interface().(json.Unmarshaler)
			if err := u.UnmarshalJSON(data[:n]); err != nil || !reflect.DeepEqual(p.Elem().Interface(), want.Elem().Interface()) {
				t.Fatalf("%s reader on %q = %+v; UnmarshalJSON(%q) = %+v, %v", typ, data, p.Elem(), data[:n], want.Elem(), err)
			}
		}
	})
}

// TestEveryValueTypeOfEveryEventIsRead: each domain value type an event holds has a value
// reader, so no field of a stored event falls back to scanning twice.
func TestEveryValueTypeOfEveryEventIsRead(t *testing.T) {
	unmarshaler := reflect.TypeFor[json.Unmarshaler]()
	var visit func(reflect.Type)
	seen := map[reflect.Type]bool{}
	visit = func(typ reflect.Type) {
		if seen[typ] {
			return
		}
		seen[typ] = true
		switch {
		case typ.PkgPath() == reflect.TypeFor[domain.Money]().PkgPath() && reflect.PointerTo(typ).Implements(unmarshaler):
			if valueReaders[typ] == nil {
				t.Errorf("no value reader for %s", typ)
			}
		case typ.Kind() == reflect.Struct:
			for i := range typ.NumField() {
				visit(typ.Field(i).Type)
			}
		case typ.Kind() == reflect.Slice || typ.Kind() == reflect.Pointer:
			visit(typ.Elem())
		}
	}
	for _, e := range domain.AllEvents() {
		visit(reflect.TypeOf(e))
	}
}

// TestTextValuesAreParsedOnce: a text value read again (a tax rate, a quantity, a plan code)
// is the value parsed the first time, shared instead of parsed and allocated anew; past the
// bound of texts kept per type, each is still read right. Concurrent readers (run with -race)
// get what parsing gives.
func TestTextValuesAreParsedOnce(t *testing.T) {
	read := valueReaders[reflect.TypeFor[domain.TaxRate]()]
	var rate domain.TaxRate
	if _, ok := read([]byte(`"0.075"`), &rate); !ok || rate.String() != "0.075" {
		t.Fatalf("first read: %v, %v", rate, ok)
	}
	data := []byte(`"0.075"`)
	if allocs := testing.AllocsPerRun(100, func() { read(data, &rate) }); allocs != 0 {
		t.Errorf("reading a tax rate read before allocates %v times, want 0", allocs)
	}

	readQuantity := valueReaders[reflect.TypeFor[domain.Quantity]()]
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 2 * maxInternedTexts {
				text := strconv.Itoa(1 + (i*7+g)%(2*maxInternedTexts))
				var q domain.Quantity
				want, err := domain.ParseQuantity(text)
				if _, ok := readQuantity([]byte(`"`+text+`"`), &q); !ok || err != nil || !q.Decimal().Equal(want.Decimal()) {
					t.Errorf("quantity %s read as %v (%v), want %v", text, q, ok, want)
					return
				}
			}
		}()
	}
	wg.Wait()
}
