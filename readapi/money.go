package readapi

import (
	"strings"

	"github.com/shopspring/decimal"
)

// Money is an amount as the API writes it: a decimal string with exactly the currency's
// minor units, and the ISO 4217 code.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// minorUnits of the currencies the ledger supports (domain/currency.go); others get 2.
var minorUnits = map[string]int32{
	"BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
	"JPY": 0, "KRW": 0, "UGX": 0, "XAF": 0, "XOF": 0,
}

func places(currency string) int32 {
	if p, ok := minorUnits[currency]; ok {
		return p
	}
	return 2
}

// money formats a NUMERIC read as text ("79.99", or "0" from an empty sum) in currency.
func money(amount, currency string) Money {
	return Money{Amount: fixed(amount, places(currency)), Currency: currency}
}

// fixed writes the decimal s with exactly p decimals. Read-model amounts already have them;
// sums of no rows and divisions (ARPU) are the exception.
func fixed(s string, p int32) string {
	if i := strings.IndexByte(s, '.'); (i < 0 && p == 0) || (i >= 0 && int32(len(s)-i-1) == p) {
		return s
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return s
	}
	return d.StringFixed(p)
}

// decimalSum adds decimal strings exactly.
type decimalSum struct{ d decimal.Decimal }

func (s *decimalSum) add(amount string) {
	if v, err := decimal.NewFromString(amount); err == nil {
		s.d = s.d.Add(v)
	}
}

func (s *decimalSum) String() string { return s.d.String() }
