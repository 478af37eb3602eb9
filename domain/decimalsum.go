package domain

import (
	"cmp"
	"math"

	"github.com/shopspring/decimal"
)

// decimalSum adds decimals exactly, as repeated decimal.Add would, to the same value and
// exponent (the smallest exponent added, and at most 0). While the total and each addend
// fit an int64 coefficient at that exponent (money in cents: always, in practice) it adds
// integers in place; past that it carries on with decimal arithmetic. Ledger totals add every
// journal line of a history, and decimal.Add allocates two objects each time.
type decimalSum struct {
	small int64 // the total's coefficient at exp, unless big is set
	exp   int32
	big   *decimal.Decimal // the total, once it no longer fits small
}

// maxSmallDigits keeps an addend's coefficient (and its rescaled form) well inside int64.
const maxSmallDigits = 18

var pow10s = func() (p [maxSmallDigits + 1]int64) {
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

func (s *decimalSum) add(d decimal.Decimal) {
	if s.big == nil && d.NumDigits() <= maxSmallDigits && s.addSmall(d.CoefficientInt64(), d.Exponent()) {
		return
	}
	total := s.value().Add(d)
	s.big = &total
}

func (s *decimalSum) sub(d decimal.Decimal) {
	if s.big == nil && d.NumDigits() <= maxSmallDigits && s.addSmall(-d.CoefficientInt64(), d.Exponent()) {
		return
	}
	total := s.value().Sub(d)
	s.big = &total
}

// addMoney adds m's amount, as add(m.Amount()) would, without making a decimal of it.
func (s *decimalSum) addMoney(m Money) {
	if s.big == nil && m.big == nil && s.addSmall(m.units, -m.currency.MinorUnits()) {
		return
	}
	s.add(m.Amount())
}

// subMoney subtracts m's amount, as sub(m.Amount()) would.
func (s *decimalSum) subMoney(m Money) {
	if s.big == nil && m.big == nil && m.units != math.MinInt64 && s.addSmall(-m.units, -m.currency.MinorUnits()) {
		return
	}
	s.sub(m.Amount())
}

// addSmall adds c·10^e to the small total and reports whether it fits; if not, it leaves
// the total as it was.
func (s *decimalSum) addSmall(c int64, e int32) bool {
	total, exp := s.small, s.exp
	if e < exp { // the total moves to the finer exponent
		var ok bool
		if total, ok = scale(total, exp-e); !ok {
			return false
		}
		exp = e
	} else if e > exp {
		var ok bool
		if c, ok = scale(c, e-exp); !ok {
			return false
		}
	}
	if (c > 0 && total > math.MaxInt64-c) || (c < 0 && total < math.MinInt64-c) {
		return false
	}
	s.small, s.exp = total+c, exp
	return true
}

// scale returns v·10^n if it fits an int64.
func scale(v int64, n int32) (int64, bool) {
	if n >= int32(len(pow10s)) {
		return 0, v == 0
	}
	p := pow10s[n]
	if v > math.MaxInt64/p || v < math.MinInt64/p {
		return 0, false
	}
	return v * p, true
}

// sign returns -1, 0 or +1 as the total is negative, zero or positive.
func (s *decimalSum) sign() int {
	if s.big != nil {
		return s.big.Sign()
	}
	return cmp.Compare(s.small, 0)
}

// value returns the total.
func (s *decimalSum) value() decimal.Decimal {
	if s.big != nil {
		return *s.big
	}
	return decimal.New(s.small, s.exp)
}

// equal reports whether the two totals are equal.
func (s *decimalSum) equal(o *decimalSum) bool {
	if s.big == nil && o.big == nil && s.exp == o.exp {
		return s.small == o.small
	}
	return s.value().Equal(o.value())
}
