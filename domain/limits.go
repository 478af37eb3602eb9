package domain

import (
	"fmt"

	"github.com/shopspring/decimal"
)

// MaxTotalAmountDigits bounds every amount the domain computes rather than takes from a
// command below 10^15 major units: a line's net and tax, an invoice's and a credit note's
// totals, and a customer's receivable and credit (so the balance, their difference, too).
// Commands are refused when they would make one larger (*AmountLimitError). The bound keeps
// three digits of room under MaxAmountIntegerDigits, the most an amount is read back from a
// stored event with, so every event the domain decides can be read again.
const MaxTotalAmountDigits = 15

// maxTotalAmount is 10^MaxTotalAmountDigits.
var maxTotalAmount = decimal.New(1, MaxTotalAmountDigits)

// AmountLimitError reports a command that would make a computed amount (Field: "line net",
// "invoice total", "customer credit", ...) reach Limit in magnitude.
type AmountLimitError struct {
	Field  string
	Amount Money
	Limit  Money
}

func (e *AmountLimitError) Error() string {
	return fmt.Sprintf("%s would be %s; it must stay below %s", e.Field, e.Amount, e.Limit)
}

func (e *AmountLimitError) Unwrap() error { return ErrRejected }

// checkTotal refuses a computed amount of magnitude 10^MaxTotalAmountDigits or more.
func checkTotal(field string, m Money) error {
	if m.absBelowPow10(MaxTotalAmountDigits) {
		return nil
	}
	return &AmountLimitError{Field: field, Amount: m, Limit: moneyOf(maxTotalAmount, m.Currency())}
}

// boundedTotals is invoiceTotals for a decision: each of net, tax and total must be within
// MaxTotalAmountDigits (*AmountLimitError otherwise).
func boundedTotals(lines []InvoiceLine, cur Currency) (net, tax, total Money, err error) {
	if net, tax, total, err = invoiceTotals(lines, cur); err != nil {
		return
	}
	err = firstError(checkTotal("invoice net total", net), checkTotal("invoice tax total", tax), checkTotal("invoice total", total))
	return
}

// checkAccountTotals refuses events that would take the customer's receivable or credit to
// the limit: the sums that grow over a customer's life, one invoice or payment at a time. It
// adds up what the events move (as Apply does) rather than folding them, which would copy the
// account's maps; an account already over the limit (decided before it existed) is refused
// only what would grow the sum further.
func checkAccountTotals(a AccountState, events []Event) error {
	var credit, owed decimalSum // exact, and without a decimal per amount while they fit an int64
	credit.addMoney(a.Credit)
	creditGrows := false
	for _, e := range events {
		switch e := e.(type) {
		case InvoiceIssued:
			owed.addMoney(e.Total)
			owed.subMoney(e.CreditApplied)
			credit.subMoney(e.CreditApplied)
		case PaymentRecorded:
			credit.addMoney(e.Unapplied)
			creditGrows = creditGrows || e.Unapplied.IsPositive()
		case PaymentRefunded:
			credit.subMoney(e.Amount)
		case CustomerCreditApplied:
			credit.subMoney(e.Amount)
		case CreditNoteIssued:
			if u := e.Unapplied(); u.IsPositive() {
				credit.addMoney(u)
				creditGrows = true
			}
		case OpeningBalanceRecorded:
			if e.Amount.IsPositive() {
				owed.addMoney(e.Amount)
			} else {
				credit.subMoney(e.Amount)
				creditGrows = true
			}
		}
	}
	cur := a.Customer.Currency
	if creditGrows {
		if err := checkTotal("customer credit", moneyOf(credit.value(), cur)); err != nil {
			return err
		}
	}
	if owed.sign() <= 0 {
		return nil
	}
	receivable := owed
	for _, inv := range a.Invoices {
		if inv.IsOpen() {
			receivable.addMoney(inv.Outstanding)
		}
	}
	return checkTotal("receivable", moneyOf(receivable.value(), cur))
}
