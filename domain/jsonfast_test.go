package domain

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/google/uuid"
)

// FuzzPlainJSONString: whenever the fast path accepts bytes, encoding/json decodes them to
// the same string.
func FuzzPlainJSONString(f *testing.F) {
	for _, s := range []string{`"USD"`, `"2026-01-10"`, `"a\"b"`, `"é"`, "\"\xff\"", `""`, `"tab	"`, `null`, `"x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := plainJSONString(data)
		if !ok {
			return
		}
		var want string
		if err := json.Unmarshal(data, &want); err != nil || want != got {
			t.Fatalf("plainJSONString(%q) = %q, encoding/json gives %q (%v)", data, got, want, err)
		}
	})
}

// FuzzPlainMoneyJSON: whenever the fast path accepts bytes, encoding/json decodes them to
// the same amount and currency.
func FuzzPlainMoneyJSON(f *testing.F) {
	for _, s := range []string{`{"amount":"79.99","currency":"USD"}`, `{"currency":"JPY","amount":"100"}`,
		`{"amount":"1","amount":"2","currency":"USD"}`, `{"amount":"1"}`, `{"amount":"1","currency":"USD",}`,
		`{"Amount":"1","currency":"USD"}`, `{ "amount":"1","currency":"USD"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := plainMoneyJSON(data)
		if !ok {
			return
		}
		var want moneyJSON
		if err := json.Unmarshal(data, &want); err != nil || want != got {
			t.Fatalf("plainMoneyJSON(%q) = %+v, encoding/json gives %+v (%v)", data, got, want, err)
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

// FuzzQuickMoney: whenever the fast path accepts bytes, the general path decodes them to the
// same amount (same scale) and currency.
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
		want, err := decodeMoney(data)
		if err != nil || !got.Equal(want) || got.Amount().Exponent() != want.Amount().Exponent() ||
			got.Amount().String() != want.Amount().String() {
			t.Fatalf("quickMoney(%q) = %v (exp %d); the general path gives %v (exp %d, %v)", data, got,
				got.Amount().Exponent(), want, want.Amount().Exponent(), err)
		}
	})
}

// FuzzUnmarshalJSONPrefix: whenever a prefix reader takes the start of the input, the bytes it
// took are one valid JSON value that UnmarshalJSON decodes to the same value.
func FuzzUnmarshalJSONPrefix(f *testing.F) {
	for _, s := range []string{`{"amount":"79.99","currency":"USD"},"x":1`, `{"amount":"79.99","currency":"USD"`,
		`"01a23af8-256d-703d-969f-c72b215e96bb","next"`, `"2026-01-10"}`, `"2026-02-30"`, `"2026-01"]`, `"2026-13"`,
		`"0000-01-01"`, `{"amount":"1"}`, `"2026-1-10"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkPrefix[Money](t, data)
		checkPrefix[CustomerID](t, data)
		checkPrefix[Date](t, data)
		checkPrefix[Period](t, data)
	})
}

func checkPrefix[T any, P interface {
	*T
	UnmarshalJSONPrefix([]byte) (int, bool)
	UnmarshalJSON([]byte) error
}](t *testing.T, data []byte) {
	var got T
	n, ok := P(&got).UnmarshalJSONPrefix(data)
	if !ok {
		return
	}
	if n <= 0 || n > len(data) || !json.Valid(data[:n]) {
		t.Fatalf("%T prefix of %q: took %d bytes, not one JSON value", got, data, n)
	}
	var want T
	if err := P(&want).UnmarshalJSON(data[:n]); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%T prefix of %q = %+v; UnmarshalJSON(%q) = %+v, %v", got, data, got, data[:n], want, err)
	}
}
