package domain

import (
	"math"
	"math/big"
	"testing"

	"github.com/shopspring/decimal"
	"pgregory.net/rapid"
)

// TestDecimalSumEqualsDecimalAdd checks decimalSum against repeated decimal.Add and Sub: the
// same value and the same exponent (so the same String), whatever the addends' sizes and
// exponents, across the switch from int64 to decimal arithmetic.
func TestDecimalSumEqualsDecimalAdd(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var s decimalSum
		want := decimal.Decimal{}
		for i := range rapid.IntRange(0, 40).Draw(t, "n") {
			d := drawDecimal(t)
			var m Money
			if rapid.Bool().Draw(t, "money") { // addMoney and subMoney, as add and sub of the amount
				c, err := ParseCurrency(rapid.SampledFrom(Currencies()).Draw(t, "currency"))
				if err != nil {
					t.Fatal(err)
				}
				m = moneyOf(decimal.NewFromBigInt(drawMinorUnits(t, "units"), -c.MinorUnits()), c)
				d = m.Amount()
			}
			sub, money := rapid.Bool().Draw(t, "sub"), !m.Currency().IsZero()
			switch {
			case sub && money:
				s.subMoney(m)
			case sub:
				s.sub(d)
			case money:
				s.addMoney(m)
			default:
				s.add(d)
			}
			if sub {
				want = want.Sub(d)
			} else {
				want = want.Add(d)
			}
			got := s.value()
			if got.String() != want.String() || got.Exponent() != want.Exponent() || s.sign() != want.Sign() {
				t.Fatalf("after %d addends: got %s (exp %d, sign %d), want %s (exp %d)", i+1, got, got.Exponent(), s.sign(), want, want.Exponent())
			}
			var other decimalSum
			other.add(d)
			if eq := s.equal(&other); eq != want.Equal(d) {
				t.Fatalf("equal(%s, %s) = %t", got, d, eq)
			}
		}
	})
}

func drawDecimal(t *rapid.T) decimal.Decimal {
	exp := rapid.Int32Range(-25, 25).Draw(t, "exp")
	switch rapid.IntRange(0, 3).Draw(t, "size") {
	case 0: // cents, the common case
		return decimal.New(rapid.Int64Range(-1_000_000_00, 1_000_000_00).Draw(t, "cents"), -2)
	case 1: // near the int64 limits
		return decimal.New(rapid.SampledFrom([]int64{math.MaxInt64, math.MinInt64 + 1, 999_999_999_999_999_999, -999_999_999_999_999_999}).Draw(t, "edge"), exp)
	case 2: // beyond int64
		c, _ := new(big.Int).SetString(rapid.StringMatching(`-?[1-9][0-9]{18,30}`).Draw(t, "huge"), 10)
		return decimal.NewFromBigInt(c, exp)
	}
	return decimal.New(rapid.Int64().Draw(t, "any"), exp)
}

func TestDecimalSumTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		add  []string
		want string
		exp  int32
	}{
		{"nothing", nil, "0", 0},
		{"cents", []string{"59.35", "20.65"}, "80", -2},
		{"finer later", []string{"1.5", "0.001"}, "1.501", -3},
		{"integers stay at exponent 0", []string{"100", "-40"}, "60", 0},
		{"past int64", []string{"9223372036854775.807", "0.001"}, "9223372036854775.808", -3},
		{"back below int64", []string{"9223372036854775.807", "0.001", "-1"}, "9223372036854774.808", -3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s decimalSum
			for _, a := range tc.add {
				s.add(decimal.RequireFromString(a))
			}
			if got := s.value(); got.String() != tc.want || got.Exponent() != tc.exp {
				t.Fatalf("got %s (exp %d), want %s (exp %d)", got, got.Exponent(), tc.want, tc.exp)
			}
		})
	}
}
