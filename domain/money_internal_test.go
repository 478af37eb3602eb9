package domain

import (
	"math"
	"math/big"
	"reflect"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// drawMinorUnits draws a count of minor units: small counts, counts at the edges of int64,
// and counts past them (up to 22 digits, more than any stored amount has).
func drawMinorUnits(t *rapid.T, label string) *big.Int {
	switch rapid.IntRange(0, 3).Draw(t, label+" kind") {
	case 0:
		return big.NewInt(rapid.Int64Range(-1_000_000, 1_000_000).Draw(t, label))
	case 1:
		return big.NewInt(rapid.Int64().Draw(t, label))
	case 2:
		edge := rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64}).Draw(t, label+" edge")
		return new(big.Int).Add(big.NewInt(edge), big.NewInt(rapid.Int64Range(-3, 3).Draw(t, label+" offset")))
	default:
		hi := big.NewInt(rapid.Int64Range(-9999, 9999).Draw(t, label+" high"))
		lo := big.NewInt(rapid.Int64Range(0, 999_999_999_999_999_999).Draw(t, label+" low"))
		return hi.Mul(hi, big.NewInt(1_000_000_000_000_000_000)).Add(hi, lo)
	}
}

// checkForm fails unless m is in Money's one form: the count of minor units in units when it
// fits an int64, else in big with the currency's exponent.
func checkForm(t *rapid.T, what string, m Money) {
	t.Helper()
	if m.big == nil {
		return
	}
	if m.big.Exponent() != -m.currency.MinorUnits() {
		t.Fatalf("%s: big amount %s has exponent %d, want %d", what, m.big, m.big.Exponent(), -m.currency.MinorUnits())
	}
	if m.big.Coefficient().IsInt64() {
		t.Fatalf("%s: %s is kept as a decimal though its minor units fit an int64", what, m.big)
	}
}

// TestMoneyMatchesDecimalArithmetic: whatever form two amounts take, every operation gives
// what decimal arithmetic on their amounts gives, in the one form of its result; so do the
// strings, and an amount built from its decimal equals (==, DeepEqual) the same amount built
// any other way.
func TestMoneyMatchesDecimalArithmetic(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c, err := ParseCurrency(rapid.SampledFrom(Currencies()).Draw(t, "currency"))
		if err != nil {
			t.Fatal(err)
		}
		exp := -c.MinorUnits()
		ua, ub := drawMinorUnits(t, "a"), drawMinorUnits(t, "b")
		da, db := decimal.NewFromBigInt(ua, exp), decimal.NewFromBigInt(ub, exp)
		a, b := moneyOf(da, c), moneyOf(db, c)
		checkForm(t, "a", a)
		checkForm(t, "b", b)
		if ua.IsInt64() {
			if want := MoneyFromMinorUnits(ua.Int64(), c); a != want || !reflect.DeepEqual(a, want) {
				t.Fatalf("moneyOf(%s) = %#v, MoneyFromMinorUnits gives %#v", da, a, want)
			}
		}
		if !a.Amount().Equal(da) || a.Amount().Exponent() != exp {
			t.Fatalf("Amount of %s = %s (exponent %d)", da, a.Amount(), a.Amount().Exponent())
		}
		if got, want := a.AmountString(), da.StringFixed(-exp); got != want {
			t.Fatalf("AmountString of %s = %q, want %q", da, got, want)
		}
		if a.IsZero() != da.IsZero() || a.IsPositive() != da.IsPositive() || a.IsNegative() != da.IsNegative() {
			t.Fatalf("signs of %s: zero %v positive %v negative %v", da, a.IsZero(), a.IsPositive(), a.IsNegative())
		}

		same := func(what string, got Money, want decimal.Decimal) {
			t.Helper()
			checkForm(t, what, got)
			if w := moneyOf(want, c); !got.Equal(w) || !reflect.DeepEqual(got, w) || got.Currency() != c {
				t.Fatalf("%s of %s and %s = %s, want %s", what, da, db, got.Amount(), want)
			}
		}
		sum, err := a.Add(b)
		if err != nil {
			t.Fatal(err)
		}
		same("Add", sum, da.Add(db))
		diff, err := a.Sub(b)
		if err != nil {
			t.Fatal(err)
		}
		same("Sub", diff, da.Sub(db))
		same("Neg", a.Neg(), da.Neg())
		same("Abs", a.Abs(), da.Abs())
		same("Mul", a.Mul(decimal.New(19, -2)), da.Mul(decimal.New(19, -2)).Round(-exp))
		cmp, err := a.Cmp(b)
		if err != nil {
			t.Fatal(err)
		}
		if cmp != da.Cmp(db) || a.Equal(b) != da.Equal(db) {
			t.Fatalf("Cmp(%s, %s) = %d, Equal %v", da, db, cmp, a.Equal(b))
		}
	})
}

// TestCurrencyIDsFollowTheCodes: each supported code parses to its own Currency, which gives
// the code and its minor units back; the ids' order is the codes' order.
func TestCurrencyIDsFollowTheCodes(t *testing.T) {
	codes := Currencies()
	if len(codes) != len(minorUnits) {
		t.Fatalf("Currencies lists %d codes, want %d", len(codes), len(minorUnits))
	}
	var prev Currency
	for _, code := range codes {
		c, err := ParseCurrency(code)
		if err != nil {
			t.Fatal(err)
		}
		if c.IsZero() || c.Code() != code || c.String() != code || c.MinorUnits() != minorUnits[code] {
			t.Fatalf("ParseCurrency(%q) = %#v: code %q, minor units %d", code, c, c.Code(), c.MinorUnits())
		}
		if c.id <= prev.id {
			t.Fatalf("%s has id %d after %s's %d", code, c.id, prev.Code(), prev.id)
		}
		prev = c
	}
	var zero Currency
	if !zero.IsZero() || zero.Code() != "" || zero.String() != "(no currency)" || zero.MinorUnits() != 0 {
		t.Fatalf("zero Currency: %q %q %d", zero.Code(), zero.String(), zero.MinorUnits())
	}
}

// TestAbsBelowPow10: the bound of commands' and computed amounts gives what comparing the
// decimal gives, at the edges of every currency's bound and past int64.
func TestAbsBelowPow10(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		c, err := ParseCurrency(rapid.SampledFrom(Currencies()).Draw(t, "currency"))
		if err != nil {
			t.Fatal(err)
		}
		n := rapid.Int32Range(0, 20).Draw(t, "digits")
		var units *big.Int
		if rapid.Bool().Draw(t, "at the bound") {
			bound := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(n+c.MinorUnits())), nil)
			units = bound.Add(bound, big.NewInt(rapid.Int64Range(-2, 1).Draw(t, "offset")))
			if rapid.Bool().Draw(t, "negative") {
				units.Neg(units)
			}
		} else {
			units = drawMinorUnits(t, "units")
		}
		d := decimal.NewFromBigInt(units, -c.MinorUnits())
		m := moneyOf(d, c)
		if got, want := m.absBelowPow10(n), d.Abs().LessThan(decimal.New(1, n)); got != want {
			t.Fatalf("|%s| < 10^%d: got %v, want %v", d, n, got, want)
		}
	})
}
