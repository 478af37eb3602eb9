package domain

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// MaxAmountIntegerDigits bounds every parsed amount below 10^18 major units.
const MaxAmountIntegerDigits = 18

// Money is an exact amount in one currency. It always holds a whole number of the currency's
// minor units (cents for USD, yen for JPY, fils for BHD): parsing refuses extra decimals, and
// multiplication rounds half away from zero ("half-up") to the minor unit. Arithmetic across
// currencies returns a *CurrencyMismatchError. The zero Money has no currency and is invalid.
type Money struct {
	amount   decimal.Decimal
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
	m := moneyOf(d, c)
	if coef := m.amount.Coefficient(); coef.IsInt64() {
		// The form MoneyFromMinorUnits builds, so that a parsed amount and the same amount
		// built from minor units are one value, not only equal ones.
		return MoneyFromMinorUnits(coef.Int64(), c), nil
	}
	return m, nil
}

// Zero returns zero in currency c.
func Zero(c Currency) Money { return moneyOf(decimal.Zero, c) }

// MoneyFromMinorUnits returns units minor units of c (7999 USD cents is 79.99 USD).
func MoneyFromMinorUnits(units int64, c Currency) Money {
	return moneyOf(decimal.New(units, -c.MinorUnits()), c)
}

// moneyOf wraps d, which must already be a whole number of c's minor units.
func moneyOf(d decimal.Decimal, c Currency) Money {
	return Money{amount: d.Round(c.MinorUnits()), currency: c}
}

// Amount returns the decimal amount.
func (m Money) Amount() decimal.Decimal { return m.amount }

// Currency returns the currency (the zero Currency for the zero Money).
func (m Money) Currency() Currency { return m.currency }

// AmountString returns the amount with exactly the currency's minor units ("79.90", "100").
func (m Money) AmountString() string { return m.amount.StringFixed(m.currency.MinorUnits()) }

// String returns the amount and currency code ("79.99 USD").
func (m Money) String() string { return m.AmountString() + " " + m.currency.String() }

// IsZero reports whether the amount is zero (in any currency, or none).
func (m Money) IsZero() bool { return m.amount.IsZero() }

// IsPositive reports whether the amount is above zero.
func (m Money) IsPositive() bool { return m.amount.IsPositive() }

// IsNegative reports whether the amount is below zero.
func (m Money) IsNegative() bool { return m.amount.IsNegative() }

// Equal reports whether m and o have the same currency and amount.
func (m Money) Equal(o Money) bool { return m.currency == o.currency && m.amount.Equal(o.amount) }

// Neg returns -m.
func (m Money) Neg() Money { return Money{amount: m.amount.Neg(), currency: m.currency} }

// Abs returns |m|.
func (m Money) Abs() Money { return Money{amount: m.amount.Abs(), currency: m.currency} }

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
	return Money{amount: m.amount.Add(o.amount), currency: m.currency}, nil
}

// Sub returns m - o, or a *CurrencyMismatchError.
func (m Money) Sub(o Money) (Money, error) {
	if err := m.sameCurrency(o); err != nil {
		return Money{}, err
	}
	return Money{amount: m.amount.Sub(o.amount), currency: m.currency}, nil
}

// Cmp compares m and o (-1, 0, +1), or returns a *CurrencyMismatchError.
func (m Money) Cmp(o Money) (int, error) {
	if err := m.sameCurrency(o); err != nil {
		return 0, err
	}
	return m.amount.Cmp(o.amount), nil
}

// Mul returns m × factor rounded half away from zero to the minor unit. Use it for quantity ×
// unit price and for net × tax rate.
func (m Money) Mul(factor decimal.Decimal) Money {
	return moneyOf(m.amount.Mul(factor), m.currency)
}

// Prorate returns m × used / total rounded half away from zero to the minor unit: the
// by-day proration of DESIGN.md (79.99 USD × 22 / 31 = 56.77 USD). It needs
// 0 <= used <= total and total > 0, otherwise it returns an *InvalidValueError.
func (m Money) Prorate(used, total int) (Money, error) {
	if total <= 0 || used < 0 || used > total {
		return Money{}, invalid("proration", fmt.Sprintf("%d/%d", used, total), "needs 0 <= used <= total and total > 0")
	}
	q := m.amount.Mul(decimal.NewFromInt(int64(used))).DivRound(decimal.NewFromInt(int64(total)), m.currency.MinorUnits())
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
