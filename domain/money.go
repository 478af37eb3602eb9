package domain

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxAmountIntegerDigits bounds every parsed amount below 10^18 major units.
const MaxAmountIntegerDigits = 18

// Money is an exact amount in one currency. It always holds a whole number of the currency's
// minor units (cents for USD, yen for JPY, fils for BHD): parsing refuses extra decimals, and
// multiplication rounds half away from zero ("half-up") to the minor unit. Arithmetic across
// currencies returns a *CurrencyMismatchError. The zero Money has no currency and is invalid.
//
// It keeps the count of minor units in an int64, and a decimal only for an amount whose count
// does not fit one (amounts read back from events reach 10^18 major units, 10^21 fils; the
// domain computes nothing above 10^15). Each amount has exactly one form, so two Money of
// equal amount and currency are equal values (==, reflect.DeepEqual), and a Money holds no
// pointer but in that rare case: an account's state keeps thousands of them, which the
// collector would otherwise follow on every cycle, two heap objects each (a big.Int and its
// words), and adding two of them allocated both again.
type Money struct {
	units    int64            // the amount in minor units of currency, unless big is set
	big      *decimal.Decimal // the amount, only when its minor units do not fit an int64
	currency Currency
}

// ParseMoney parses amount (a plain decimal string such as "79.99" or "-5") in the currency
// with the given ISO 4217 code. It refuses exponents, NaN, Infinity, '+', leading zeros, more
// than MaxAmountIntegerDigits integer digits and more decimals than the currency has: every
// accepted amount is exact. Errors are *InvalidValueError.
func ParseMoney(amount, currency string) (Money, error) {
	c, err := ParseCurrency(currency)
	if err != nil {
		return Money{}, err
	}
	return ParseAmount(amount, c)
}

// ParseAmount is ParseMoney for a currency already parsed.
func ParseAmount(amount string, c Currency) (Money, error) {
	if c.IsZero() {
		return Money{}, invalid("currency", "", "missing")
	}
	d, err := parsePlainDecimal("amount", amount, MaxAmountIntegerDigits, int(c.MinorUnits()))
	if err != nil {
		return Money{}, err
	}
	return moneyOf(d, c), nil
}

// Zero returns zero in currency c.
func Zero(c Currency) Money { return Money{currency: c} }

// MoneyFromMinorUnits returns units minor units of c (7999 USD cents is 79.99 USD).
func MoneyFromMinorUnits(units int64, c Currency) Money { return Money{units: units, currency: c} }

// moneyOf returns d rounded half away from zero to c's minor units, in its one form.
func moneyOf(d decimal.Decimal, c Currency) Money {
	if d.IsZero() {
		return Money{currency: c}
	}
	r := d.Round(c.MinorUnits()) // its exponent is -c.MinorUnits(): the coefficient counts minor units
	if r.NumDigits() <= maxSmallDigits {
		return Money{units: r.CoefficientInt64(), currency: c}
	}
	if coef := r.Coefficient(); coef.IsInt64() {
		return Money{units: coef.Int64(), currency: c}
	}
	return Money{big: &r, currency: c}
}

// Amount returns the decimal amount, with the currency's minor units as its exponent's
// negation (79.99 USD is 7999 × 10^-2; zero USD is 0 × 10^-2).
func (m Money) Amount() decimal.Decimal {
	if m.big != nil {
		return *m.big
	}
	return decimal.New(m.units, -m.currency.MinorUnits())
}

// Currency returns the currency (the zero Currency for the zero Money).
func (m Money) Currency() Currency { return m.currency }

// AmountString returns the amount with exactly the currency's minor units ("79.90", "100").
func (m Money) AmountString() string {
	if m.big != nil {
		return m.big.StringFixed(m.currency.MinorUnits())
	}
	return string(appendUnits(make([]byte, 0, 24), m.units, m.currency.MinorUnits()))
}

// appendUnits appends units minor units with places decimals, as decimal's StringFixed writes
// them: an optional '-', the integer part (at least "0"), and '.' and exactly places digits
// when places > 0.
func appendUnits(b []byte, units int64, places int32) []byte {
	if units < 0 {
		b = append(b, '-')
	}
	mag := uint64(units)
	if units < 0 {
		mag = -mag // two's complement: right for math.MinInt64 too
	}
	unit := uint64(pow10s[places]) // places is a currency's minor units: 0 to 3
	b = strconv.AppendUint(b, mag/unit, 10)
	if places == 0 {
		return b
	}
	b = append(b, '.')
	var buf [3]byte
	frac := strconv.AppendUint(buf[:0], mag%unit, 10)
	for range int(places) - len(frac) {
		b = append(b, '0')
	}
	return append(b, frac...)
}

// absBelowPow10 reports whether |m| < 10^n major units.
func (m Money) absBelowPow10(n int32) bool {
	if digits := n + m.currency.MinorUnits(); m.big == nil && n >= 0 && digits <= maxSmallDigits {
		bound := uint64(pow10s[digits])
		if m.units < 0 {
			return -uint64(m.units) < bound
		}
		return uint64(m.units) < bound
	}
	return m.Amount().Abs().LessThan(decimal.New(1, n))
}

// String returns the amount and currency code ("79.99 USD").
func (m Money) String() string { return m.AmountString() + " " + m.currency.String() }

// IsZero reports whether the amount is zero (in any currency, or none).
func (m Money) IsZero() bool { return m.big == nil && m.units == 0 }

// IsPositive reports whether the amount is above zero.
func (m Money) IsPositive() bool {
	if m.big != nil {
		return m.big.IsPositive()
	}
	return m.units > 0
}

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool {
	if m.big != nil {
		return m.big.IsNegative()
	}
	return m.units < 0
}

// Equal reports whether m and o have the same currency and amount.
func (m Money) Equal(o Money) bool {
	if m.currency != o.currency {
		return false
	}
	if m.big == nil && o.big == nil {
		return m.units == o.units
	}
	return m.Amount().Equal(o.Amount())
}

// Neg returns -m.
func (m Money) Neg() Money {
	if m.big == nil && m.units != math.MinInt64 {
		return Money{units: -m.units, currency: m.currency}
	}
	return moneyOf(m.Amount().Neg(), m.currency)
}

// Abs returns |m|.
func (m Money) Abs() Money {
	if m.IsNegative() {
		return m.Neg()
	}
	return m
}

// sameCurrency returns a *CurrencyMismatchError unless o is in m's (non-zero) currency.
func (m Money) sameCurrency(o Money) error {
	if m.currency.IsZero() || m.currency != o.currency {
		return &CurrencyMismatchError{Want: m.currency, Got: o.currency}
	}
	return nil
}

// Add returns m + o, or a *CurrencyMismatchError.
func (m Money) Add(o Money) (Money, error) {
	if err := m.sameCurrency(o); err != nil {
		return Money{}, err
	}
	if m.big == nil && o.big == nil {
		if sum := m.units + o.units; !addOverflows(m.units, o.units, sum) {
			return Money{units: sum, currency: m.currency}, nil
		}
	}
	return moneyOf(m.Amount().Add(o.Amount()), m.currency), nil
}

// Sub returns m - o, or a *CurrencyMismatchError.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.sameCurrency(o); err != nil {
		return Money{}, err
	}
	if m.big == nil && o.big == nil && o.units != math.MinInt64 {
		if diff := m.units - o.units; !addOverflows(m.units, -o.units, diff) {
			return Money{units: diff, currency: m.currency}, nil
		}
	}
	return moneyOf(m.Amount().Sub(o.Amount()), m.currency), nil
}

// addOverflows reports whether sum, the wrapped int64 sum of a and b, overflowed: both
// addends have one sign and the sum the other.
func addOverflows(a, b, sum int64) bool { return (a >= 0) == (b >= 0) && (sum >= 0) != (a >= 0) }

// Cmp compares m and o (-1, 0, +1), or returns a *CurrencyMismatchError.
func (m Money) Cmp(o Money) (int, error) {
	if err := m.sameCurrency(o); err != nil {
		return 0, err
	}
	if m.big == nil && o.big == nil {
		return cmp.Compare(m.units, o.units), nil
	}
	return m.Amount().Cmp(o.Amount()), nil
}

// Mul returns m × factor rounded half away from zero to the minor unit. Use it for quantity ×
// unit price and for net × tax rate.
func (m Money) Mul(factor decimal.Decimal) Money {
	return moneyOf(m.Amount().Mul(factor), m.currency)
}

// Prorate returns m × used / total rounded half away from zero to the minor unit: the
// by-day proration of DESIGN.md (79.99 USD × 22 / 31 = 56.77 USD). It needs
// 0 <= used <= total and total > 0, otherwise it returns an *InvalidValueError.
func (m Money) Prorate(used, total int) (Money, error) {
	if total <= 0 || used < 0 || used > total {
		return Money{}, invalid("proration", fmt.Sprintf("%d/%d", used, total), "needs 0 <= used <= total and total > 0")
	}
	q := m.Amount().Mul(decimal.NewFromInt(int64(used))).DivRound(decimal.NewFromInt(int64(total)), m.currency.MinorUnits())
	return moneyOf(q, m.currency), nil
}

// Sum adds amounts, all of which must be in currency c; it returns Zero(c) for none.
func Sum(c Currency, amounts ...Money) (Money, error) {
	total := Zero(c)
	for _, a := range amounts {
		var err error
		if total, err = total.Add(a); err != nil {
			return Money{}, err
		}
	}
	return total, nil
}

// minMoney returns the smaller of a and b, or a *CurrencyMismatchError.
func minMoney(a, b Money) (Money, error) {
	c, err := a.Cmp(b)
	if err != nil {
		return Money{}, err
	}
	if c > 0 {
		return b, nil
	}
	return a, nil
}

type moneyJSON struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// MarshalJSON encodes {"amount":"79.99","currency":"USD"}: the amount as a string with exactly
// the currency's minor units. The zero Money encodes as null.
func (m Money) MarshalJSON() ([]byte, error) {
	if m.currency.IsZero() {
		return []byte("null"), nil
	}
	amount, code := m.AmountString(), m.currency.Code()
	b := make([]byte, 0, len(`{"amount":"","currency":""}`)+len(amount)+len(code))
	b = append(b, `{"amount":`...)
	b = appendQuoted(b, amount) // digits, a sign and a point: nothing to escape
	b = append(b, `,"currency":`...)
	b = appendQuoted(b, code) // three upper-case letters (ParseCurrency)
	return append(b, '}'), nil
}

// UnmarshalJSON decodes what MarshalJSON writes, with ParseMoney's rules; null gives the zero
// Money.
func (m *Money) UnmarshalJSON(data []byte) error {
	if strings.TrimSpace(string(data)) == "null" {
		*m = Money{}
		return nil
	}
	var raw moneyJSON
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("%w: money must be {\"amount\":\"...\",\"currency\":\"...\"}: %w", ErrInvalid, err)
	}
	v, err := ParseMoney(raw.Amount, raw.Currency)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// isBig reports whether m's minor units do not fit an int64 (m holds its amount apart).
func (m Money) isBig() bool { return m.big != nil }
