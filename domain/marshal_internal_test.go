package domain

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
)

// FuzzMarshalNullable: the domain's strings marshal to exactly the bytes json.Marshal gives,
// whether or not they take the direct path (quotes, escapes, HTML characters, control bytes,
// invalid UTF-8, U+2028).
func FuzzMarshalNullable(f *testing.F) {
	for _, s := range []string{"", "card", "acme-1", "2026-03-01", `a"b`, `a\b`, "<&>", "tab\there", "é", "\xff", "\u2028", "\x7f", " ~"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := marshalNullable(s, false)
		if err != nil {
			t.Fatal(err)
		}
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("marshalNullable(%q) = %s, json.Marshal gives %s", s, got, want)
		}
	})
}

// TestMarshalJSONIsWhatJSONMarshalGave: ids and money marshal to the bytes of the nested
// json.Marshal they replaced, so that stored events and stored responses keep their bytes.
func TestMarshalJSONIsWhatJSONMarshalGave(t *testing.T) {
	for _, u := range []uuid.UUID{uuid.MustParse("01940000-0000-7000-8000-000000000101"), uuid.MustParse("ffffffff-ffff-7fff-bfff-ffffffffffff"), uuid.New()} {
		id := ID[paymentKind]{u: u}
		got, err := id.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(u.String())
		if !bytes.Equal(got, want) {
			t.Fatalf("id %s marshals to %s, want %s", u, got, want)
		}
	}
	if got, _ := (ID[paymentKind]{}).MarshalJSON(); string(got) != "null" {
		t.Fatalf("the zero id marshals to %s", got)
	}
	for _, c := range []struct{ amount, code string }{{"79.99", "USD"}, {"-12.5", "EUR"}, {"1000", "JPY"}, {"1.234", "BHD"}, {"0", "GBP"}, {"999999999999999999.99", "USD"}} {
		m, err := ParseMoney(c.amount, c.code)
		if err != nil {
			t.Fatal(err)
		}
		got, err := m.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(moneyJSON{Amount: m.AmountString(), Currency: m.currency.Code()})
		if !bytes.Equal(got, want) {
			t.Fatalf("%s marshals to %s, want %s", m, got, want)
		}
	}
}
