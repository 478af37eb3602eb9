package domain

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Currency is an ISO 4217 currency this ledger knows the minor units of. The zero Currency is
// invalid; get one from ParseCurrency.
//
// It is a small number, not the code: every Money holds one, and an account's state holds
// many Money, so a Currency holds no pointer for the collector to follow (nor a string read
// from a request or an event, kept alive by it).
type Currency struct {
	id uint8 // 1 + the code's index in currencyCodes; 0: the zero Currency
}

// minorUnits is the number of decimal places of each supported currency (ISO 4217).
var minorUnits = map[string]int32{
	"AUD": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CNY": 2, "DKK": 2, "EUR": 2,
	"GBP": 2, "GHS": 2, "HKD": 2, "INR": 2, "IQD": 3, "JOD": 3, "JPY": 0, "KES": 2,
	"KRW": 0, "KWD": 3, "LYD": 3, "MXN": 2, "NGN": 2, "NOK": 2, "NZD": 2, "OMR": 3,
	"PLN": 2, "SEK": 2, "SGD": 2, "TND": 3, "TZS": 2, "UGX": 0, "USD": 2, "XAF": 0,
	"XOF": 0, "ZAR": 2,
}

// ParseCurrency returns the currency with the given upper-case ISO 4217 code ("USD"). An
// unknown or lower-case code is an *InvalidValueError.
func ParseCurrency(code string) (Currency, error) {
	id, ok := currencyIDs[code]
	if !ok {
		return Currency{}, invalid("currency", code, "not a supported ISO 4217 code")
	}
	return Currency{id: id}, nil
}

// currencyCodes holds the supported codes, sorted; currencyMinorUnits their minor units, in
// the same order; currencyIDs each code's Currency id (1 + its index).
var currencyCodes, currencyMinorUnits, currencyIDs = func() ([]string, []int32, map[string]uint8) {
	codes := make([]string, 0, len(minorUnits))
	for c := range minorUnits {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	if len(codes) > math.MaxUint8 {
		panic("invariant: more supported currencies than a Currency id can number")
	}
	units := make([]int32, len(codes))
	ids := make(map[string]uint8, len(codes))
	for i, c := range codes {
		units[i], ids[c] = minorUnits[c], uint8(i+1)
	}
	return codes, units, ids
}()

// Currencies returns the codes of every supported currency, sorted.
func Currencies() []string { return slices.Clone(currencyCodes) }

// Code returns the ISO 4217 code, or "" for the zero Currency.
func (c Currency) Code() string {
	if c.id == 0 {
		return ""
	}
	return currencyCodes[c.id-1]
}

// String returns the code, or "(no currency)" for the zero Currency.
func (c Currency) String() string {
	if c.id == 0 {
		return "(no currency)"
	}
	return c.Code()
}

// IsZero reports whether c is the zero (invalid) Currency.
func (c Currency) IsZero() bool { return c.id == 0 }

// MinorUnits returns the number of decimal places amounts in c have: 2 for USD, 0 for JPY,
// 3 for BHD. It is 0 for the zero Currency.
func (c Currency) MinorUnits() int32 {
	if c.id == 0 {
		return 0
	}
	return currencyMinorUnits[c.id-1]
}

// MarshalJSON encodes the code as a JSON string, and the zero Currency as null.
func (c Currency) MarshalJSON() ([]byte, error) {
	if c.IsZero() {
		return []byte("null"), nil
	}
	return appendQuoted(make([]byte, 0, 5), c.Code()), nil // three upper-case letters
}

// UnmarshalJSON decodes a code written by MarshalJSON; null gives the zero Currency.
func (c *Currency) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, c, ParseCurrency)
}

// unmarshalNullable decodes a JSON string with parse into *dst, or leaves the zero value for
// null. It is how every validated value type in this package reads JSON.
func unmarshalNullable[T any](data []byte, dst *T, parse func(string) (T, error)) error {
	var zero T
	if strings.TrimSpace(string(data)) == "null" {
		*dst = zero
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("%w: want a JSON string or null: %w", ErrInvalid, err)
	}
	v, err := parse(s)
	if err != nil {
		return err
	}
	*dst = v
	return nil
}

// marshalNullable encodes s as a JSON string, or null when zero is true: the bytes
// json.Marshal(s) gives, written directly when s needs no escaping (ids, codes, dates and
// amounts always), which spares every marshaled value a nested encoder.
func marshalNullable(s string, zero bool) ([]byte, error) {
	if zero {
		return []byte("null"), nil
	}
	if !plainJSON(s) {
		return json.Marshal(s)
	}
	return appendQuoted(make([]byte, 0, len(s)+2), s), nil
}

// plainJSON reports whether json.Marshal writes s between quotes unchanged: printable ASCII
// other than the quote, the backslash and the characters it escapes for HTML (<, > and &).
func plainJSON(s string) bool {
	for i := range len(s) {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendQuoted appends s between quotes; s must be plainJSON.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
