package domain

import (
	"slices"
	"strings"

	"github.com/shopspring/decimal"
)

// LedgerTotals accumulates posted entries per account and currency as signed sums (debits
// positive, credits negative). The zero value is ready to use.
type LedgerTotals struct {
	sums map[ledgerKey]*decimalSum
}

type ledgerKey struct {
	account  AccountCode
	currency Currency
}

// Post adds every line of e.
func (t *LedgerTotals) Post(e JournalEntry) {
	for _, l := range e.lines {
		s := t.sum(ledgerKey{l.Account, l.Amount.Currency()})
		if l.Side == SideCredit {
			s.subMoney(l.Amount)
		} else {
			s.addMoney(l.Amount)
		}
	}
}

// sum returns the running sum of k, created at zero.
func (t *LedgerTotals) sum(k ledgerKey) *decimalSum {
	s := t.sums[k]
	if s == nil {
		if t.sums == nil {
			t.sums = make(map[ledgerKey]*decimalSum)
		}
		s = &decimalSum{}
		t.sums[k] = s
	}
	return s
}

// get returns the sum of k (zero if nothing was posted to it).
func (t LedgerTotals) get(k ledgerKey) decimal.Decimal {
	if s := t.sums[k]; s != nil {
		return s.value()
	}
	return decimal.Decimal{}
}

// Balance returns the signed sum of account in currency c (debits minus credits).
func (t LedgerTotals) Balance(account AccountCode, c Currency) Money {
	return moneyOf(t.get(ledgerKey{account, c}), c)
}

// Net returns the signed sum of all accounts in currency c: zero, because every entry
// balances. Auditors check it at every position of the feed.
func (t LedgerTotals) Net(c Currency) Money {
	var total decimalSum
	for k, v := range t.sums {
		if k.currency == c {
			total.add(v.value())
		}
	}
	return moneyOf(total.value(), c)
}

// Currencies returns the currencies posted so far, sorted by code.
func (t LedgerTotals) Currencies() []Currency {
	var out []Currency
	for k := range t.sums {
		if !slices.Contains(out, k.currency) {
			out = append(out, k.currency)
		}
	}
	slices.SortFunc(out, func(a, b Currency) int { return strings.Compare(a.Code(), b.Code()) })
	return out
}

// CustomerBalance returns AR (1100) minus customer credit (2200) in currency c. When only one
// customer's entries were posted, it equals that customer's AccountState.Balance.
func (t LedgerTotals) CustomerBalance(c Currency) Money {
	// 2200 is a credit-balance account: its signed sum is minus the credit.
	return moneyOf(t.get(ledgerKey{AccountReceivable, c}).Add(t.get(ledgerKey{AccountCustomerCredit, c})), c)
}

// Add adds every sum of o to t.
func (t *LedgerTotals) Add(o LedgerTotals) {
	for k, v := range o.sums {
		t.sum(k).add(v.value())
	}
}
