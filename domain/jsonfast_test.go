package domain

import (
	"encoding/json"
	"testing"
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
