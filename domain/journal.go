package domain

import (
	"fmt"
	"slices"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// AccountCode is an account of the chart of accounts in DESIGN.md. Each tenant has the same
// chart; AR (1100) and customer credit (2200) are kept per customer by the entries'
// Customer.
type AccountCode int

// The chart of accounts.
const (
	AccountCash           AccountCode = 1000 // cash / clearing: money received and paid out
	AccountReceivable     AccountCode = 1100 // accounts receivable: what customers owe
	AccountTaxPayable     AccountCode = 2100 // tax collected, owed to the tax authority
	AccountCustomerCredit AccountCode = 2200 // customer credit: what the ISP owes customers
	AccountUnallocated    AccountCode = 2300 // unallocated receipts: money received, not yet matched to a customer
	AccountOpeningEquity  AccountCode = 3000 // opening-balance equity: balances moved over from another system
	AccountServiceRevenue AccountCode = 4000 // service revenue
	AccountRevenueContra  AccountCode = 4900 // revenue contra: credits given
)

// ChartOfAccounts lists every account, in code order.
func ChartOfAccounts() []AccountCode {
	return []AccountCode{AccountCash, AccountReceivable, AccountTaxPayable, AccountCustomerCredit, AccountUnallocated, AccountOpeningEquity,
		AccountServiceRevenue, AccountRevenueContra}
}

var accountNames = map[AccountCode]string{
	AccountCash:           "Cash / clearing",
	AccountReceivable:     "Accounts receivable",
	AccountTaxPayable:     "Tax payable",
	AccountCustomerCredit: "Customer credit",
	AccountUnallocated:    "Unallocated receipts",
	AccountOpeningEquity:  "Opening balance equity",
	AccountServiceRevenue: "Service revenue",
	AccountRevenueContra:  "Revenue contra (credits)",
}

// Name returns the account's name, or "" for a code not in the chart.
func (a AccountCode) Name() string { return accountNames[a] }

// String returns "1100 Accounts receivable".
func (a AccountCode) String() string { return fmt.Sprintf("%d %s", int(a), a.Name()) }

// Side is the debit or credit side of a journal line.
type Side struct {
	s string
}

// The two sides.
var (
	SideDebit  = Side{"debit"}
	SideCredit = Side{"credit"}
)

// String returns "debit" or "credit".
func (s Side) String() string { return s.s }

// JournalLine moves Amount (positive) on one side of one account.
type JournalLine struct {
	Account AccountCode
	Side    Side
	Amount  Money
}

// Debit returns a debit line.
func Debit(account AccountCode, amount Money) JournalLine {
	return JournalLine{Account: account, Side: SideDebit, Amount: amount}
}

// Credit returns a credit line.
func Credit(account AccountCode, amount Money) JournalLine {
	return JournalLine{Account: account, Side: SideCredit, Amount: amount}
}

// Signed returns the amount as a signed number: positive for a debit, negative for a credit.
// The signed lines of a balanced entry sum to zero per currency.
func (l JournalLine) Signed() decimal.Decimal {
	if l.Side == SideCredit {
		return l.Amount.Amount().Neg()
	}
	return l.Amount.Amount()
}

// MaxJournalLines is the most lines one journal entry may have.
const MaxJournalLines = 64

// ErrEmptyEntry is returned for a journal entry without lines.
var ErrEmptyEntry = fmt.Errorf("%w: a journal entry needs at least one line", ErrInvalid)

// UnbalancedEntryError reports a journal entry whose debits and credits differ in a currency.
type UnbalancedEntryError struct {
	Currency Currency
	Debits   Money
	Credits  Money
}

func (e *UnbalancedEntryError) Error() string {
	return fmt.Sprintf("unbalanced journal entry in %s: debits %s, credits %s", e.Currency, e.Debits, e.Credits)
}

func (e *UnbalancedEntryError) Unwrap() error { return ErrInvalid }

// JournalEntry is a balanced double entry: for every currency its debits equal its credits.
// Its fields are private: the only ways to get one are NewJournalEntry, Reversal, and
// Postings, so an unbalanced entry cannot exist.
type JournalEntry struct {
	customer CustomerID
	date     Date
	memo     memo
	lines    []JournalLine
}

// memo is an entry's description in parts, joined by Memo: audit verify derives an entry for
// every money event and never reads it.
type memo struct {
	source string    // "InvoiceIssued", or the whole memo
	ref    string    // "INV-2026-0001", else id
	id     uuid.UUID // a payment or credit note id
}

func (m memo) String() string {
	switch {
	case m.ref != "":
		return m.source + " " + m.ref
	case m.id != uuid.Nil:
		return m.source + " " + m.id.String()
	}
	return m.source
}

// NewJournalEntry returns the entry, or an error: ErrEmptyEntry for no lines; an
// *InvalidValueError for more than MaxJournalLines lines, an account outside the chart, a
// missing side, or an amount that is not positive or has no currency; an
// *UnbalancedEntryError when debits and credits differ in some currency.
func NewJournalEntry(customer CustomerID, date Date, memo string, lines ...JournalLine) (JournalEntry, error) {
	return newJournalEntry(customer, date, memoText(memo), append([]JournalLine(nil), lines...))
}

func memoText(text string) memo { return memo{source: text} }

// newJournalEntry is NewJournalEntry keeping lines, which the caller hands over.
func newJournalEntry(customer CustomerID, date Date, memo memo, lines []JournalLine) (JournalEntry, error) {
	if len(lines) == 0 {
		return JournalEntry{}, ErrEmptyEntry
	}
	if len(lines) > MaxJournalLines {
		return JournalEntry{}, invalid("journal entry", memo.String(), fmt.Sprintf("more than %d lines", MaxJournalLines))
	}
	for _, l := range lines {
		if err := l.validate(); err != nil {
			return JournalEntry{}, err
		}
	}
	if err := checkBalanced(lines); err != nil {
		return JournalEntry{}, err
	}
	return JournalEntry{customer: customer, date: date, memo: memo, lines: lines}, nil
}

func (l JournalLine) validate() error {
	switch {
	case l.Account.Name() == "":
		return invalid("journal account", fmt.Sprint(int(l.Account)), "not in the chart of accounts")
	case l.Side != SideDebit && l.Side != SideCredit:
		return invalid("journal side", l.Side.s, "want debit or credit")
	case l.Amount.Currency().IsZero() || !l.Amount.IsPositive():
		return invalid("journal amount", l.Amount.String(), "must be positive, with a currency")
	}
	return nil
}

// checkBalanced returns an *UnbalancedEntryError for the first currency whose debits and
// credits differ.
func checkBalanced(lines []JournalLine) error {
	// Entries have a few lines in one currency (rarely more): a short list beats maps.
	type sums struct {
		currency        Currency
		debits, credits decimalSum
	}
	var buf [2]sums
	order := buf[:0]
	for _, l := range lines {
		c := l.Amount.Currency()
		k := slices.IndexFunc(order, func(s sums) bool { return s.currency == c })
		if k < 0 {
			order = append(order, sums{currency: c})
			k = len(order) - 1
		}
		if l.Side == SideDebit {
			order[k].debits.addMoney(l.Amount)
		} else {
			order[k].credits.addMoney(l.Amount)
		}
	}
	for _, s := range order {
		if !s.debits.equal(&s.credits) {
			return &UnbalancedEntryError{Currency: s.currency, Debits: moneyOf(s.debits.value(), s.currency), Credits: moneyOf(s.credits.value(), s.currency)}
		}
	}
	return nil
}

// Customer returns the customer whose sub-ledger (AR, customer credit) the entry posts to.
func (e JournalEntry) Customer() CustomerID { return e.customer }

// Date returns the accounting date.
func (e JournalEntry) Date() Date { return e.date }

// Memo describes the source ("InvoiceIssued INV-2026-0001").
func (e JournalEntry) Memo() string { return e.memo.String() }

// Lines returns a copy of the lines.
func (e JournalEntry) Lines() []JournalLine { return append([]JournalLine(nil), e.lines...) }

// Reversal returns the exact reversal of e (every line on the other side), dated date with
// memo. It balances because e does.
func (e JournalEntry) Reversal(date Date, memo string) JournalEntry {
	return e.reversal(date, memoText(memo))
}

func (e JournalEntry) reversal(date Date, memo memo) JournalEntry {
	lines := make([]JournalLine, len(e.lines))
	for i, l := range e.lines {
		l.Side = SideDebit
		if e.lines[i].Side == SideDebit {
			l.Side = SideCredit
		}
		lines[i] = l
	}
	return JournalEntry{customer: e.customer, date: date, memo: memo, lines: lines}
}
