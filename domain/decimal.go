package domain

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"
)

// Limits on decimal values other than money.
const (
	// MaxTaxRateDecimals is the most decimal places a tax rate may have ("0.075" has 3).
	MaxTaxRateDecimals = 6
	// MaxQuantityDecimals is the most decimal places a line quantity may have.
	MaxQuantityDecimals = 6
	// MaxQuantityIntegerDigits bounds a line quantity below 10^6.
	MaxQuantityIntegerDigits = 6
)

// parsePlainDecimal parses s as a plain decimal number: an optional '-', an integer part
// without leading zeros, and an optional '.' followed by at least one digit. Exponents, '+',
// spaces, NaN and Infinity are refused, as are more than maxInt integer digits or maxFrac
// decimals. The result is exact (no rounding).
func parsePlainDecimal(field, s string, maxInt, maxFrac int) (decimal.Decimal, error) {
	body := strings.TrimPrefix(s, "-")
	intPart, frac, hasDot := strings.Cut(body, ".")
	switch {
	case !isDigits(intPart) || (hasDot && !isDigits(frac)):
		return decimal.Decimal{}, invalid(field, s, "not a plain decimal number such as 79.99")
	case len(intPart) > 1 && intPart[0] == '0':
		return decimal.Decimal{}, invalid(field, s, "leading zeros are not allowed")
	case len(intPart) > maxInt:
		return decimal.Decimal{}, invalid(field, s, fmt.Sprintf("more than %d integer digits", maxInt))
	case len(frac) > maxFrac:
		return decimal.Decimal{}, invalid(field, s, fmt.Sprintf("more than %d decimal places", maxFrac))
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, invalid(field, s, err.Error())
	}
	return d, nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// formatPlain writes d with at most maxFrac decimals and no trailing zeros ("0.2", "1",
// "0.075"), independent of the decimal package's global formatting switches.
func formatPlain(d decimal.Decimal, maxFrac int32) string {
	s := d.StringFixed(maxFrac)
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	if s == "-0" {
		return "0"
	}
	return s
}

// TaxRate is a tax rate as a decimal fraction between 0 and 1 inclusive ("0.20" is 20 %), with
// at most MaxTaxRateDecimals decimals. The zero value is a valid 0 % rate.
type TaxRate struct {
	d decimal.Decimal
}

// ParseTaxRate parses a plain decimal fraction such as "0.20" or "0.075". Values outside
// [0, 1] or with too many decimals are an *InvalidValueError.
func ParseTaxRate(s string) (TaxRate, error) {
	d, err := parsePlainDecimal("tax rate", s, 1, MaxTaxRateDecimals)
	if err != nil {
		return TaxRate{}, err
	}
	if d.IsNegative() || d.GreaterThan(decimal.NewFromInt(1)) {
		return TaxRate{}, invalid("tax rate", s, "must be between 0 and 1 (a fraction, 0.20 is 20%)")
	}
	return TaxRate{d: d}, nil
}

// Decimal returns the rate as a decimal fraction.
func (r TaxRate) Decimal() decimal.Decimal { return r.d }

// String returns the canonical form: no trailing zeros ("0.2").
func (r TaxRate) String() string { return formatPlain(r.d, MaxTaxRateDecimals) }

// Equal reports whether both rates are the same number.
func (r TaxRate) Equal(o TaxRate) bool { return r.d.Equal(o.d) }

// MarshalJSON encodes the rate as a JSON string ("0.2").
func (r TaxRate) MarshalJSON() ([]byte, error) { return marshalNullable(r.String(), false) }

// UnmarshalJSON decodes a rate written as a JSON string; null gives the 0 % rate.
func (r *TaxRate) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, r, ParseTaxRate)
}

// Quantity is a positive line quantity below 10^MaxQuantityIntegerDigits with at most
// MaxQuantityDecimals decimals. The zero value is not a valid line quantity.
type Quantity struct {
	d decimal.Decimal
}

// ParseQuantity parses a plain positive decimal such as "1" or "2.5". Zero, negative values,
// too many digits or decimals are an *InvalidValueError.
func ParseQuantity(s string) (Quantity, error) {
	d, err := parsePlainDecimal("quantity", s, MaxQuantityIntegerDigits, MaxQuantityDecimals)
	if err != nil {
		return Quantity{}, err
	}
	if !d.IsPositive() {
		return Quantity{}, invalid("quantity", s, "must be greater than zero")
	}
	return Quantity{d: d}, nil
}

// QuantityOne is a quantity of one unit, the quantity of every recurring line.
func QuantityOne() Quantity { return Quantity{d: decimal.NewFromInt(1)} }

// Decimal returns the quantity.
func (q Quantity) Decimal() decimal.Decimal { return q.d }

// IsZero reports whether q is the zero (invalid) quantity.
func (q Quantity) IsZero() bool { return q.d.IsZero() }

// String returns the canonical form: no trailing zeros ("2.5").
func (q Quantity) String() string { return formatPlain(q.d, MaxQuantityDecimals) }

// Equal reports whether both quantities are the same number.
func (q Quantity) Equal(o Quantity) bool { return q.d.Equal(o.d) }

// MarshalJSON encodes the quantity as a JSON string, and the zero quantity as null.
func (q Quantity) MarshalJSON() ([]byte, error) { return marshalNullable(q.String(), q.IsZero()) }

// UnmarshalJSON decodes a quantity written as a JSON string; null gives the zero quantity.
func (q *Quantity) UnmarshalJSON(data []byte) error {
	return unmarshalNullable(data, q, ParseQuantity)
}
