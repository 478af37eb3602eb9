package domain

import "errors"

// Postings derives the journal entry of event e from e alone, per DESIGN.md's chart:
//
//	InvoiceIssued     Dr 1100 total, Cr 4000 net, Cr 2100 tax; and for customer credit
//	                  applied at issue: Dr 2200 credit applied, Cr 1100 credit applied (the
//	                  same for its InvoiceIssuedHead)
//	InvoiceVoided     the exact reversal of the voided invoice's InvoiceIssued entry
//	PaymentRecorded   Dr 1000 amount, Cr 1100 allocated, Cr 2200 unapplied; Dr 2300 instead of
//	                  Dr 1000 for the allocation of an unallocated receipt (ReceiptID set)
//	UnallocatedReceiptRecorded  Dr 1000 amount, Cr 2300 amount (no customer)
//	CustomerCreditApplied  Dr 2200 amount, Cr 1100 amount
//	OpeningBalanceRecorded  Dr 1100 / Cr 3000 amount (positive), Dr 3000 / Cr 2200 (negative)
//	PaymentRefunded   Dr 2200 amount, Cr 1000 amount
//	CreditNoteIssued  Dr 4900 net, Dr 2100 tax, Cr 1100 total (against an invoice); against
//	                  the account Cr 1100 allocated (the open invoices it settled) and Cr 2200
//	                  unapplied (the rest, customer credit)
//
// Zero amounts are left out, and a negative amount posts on the other side (an invoice whose
// credit lines make its tax negative debits 2100). The entry is dated the event's own date;
// Poster splits it by date, so that a settlement is dated no earlier than the invoice it
// settles and the credit it uses (what every reader by business date uses: the journal, as-of
// balances, exports). Its entries sum to this one per account, so readers of totals (verify,
// current balances, statements) may use Postings alone. ok is false for events that move no money
// and for money events whose amounts are all zero. err is non-nil only for an event whose
// amounts do not balance (a corrupt or hand-made event): it wraps *UnbalancedEntryError.
func Postings(e Event) (entry JournalEntry, ok bool, err error) {
	entry, err = postings(e)
	if errors.Is(err, errNoPosting) || errors.Is(err, ErrEmptyEntry) {
		return JournalEntry{}, false, nil
	}
	if err != nil {
		return JournalEntry{}, false, err
	}
	return entry, true, nil
}

// PostsToJournal reports whether events of the named type can post a journal entry, so that
// a reader after the journal alone decodes only those.
func PostsToJournal(eventType string) bool {
	switch eventType {
	case InvoiceIssued{}.EventType(), InvoiceVoided{}.EventType(), PaymentRecorded{}.EventType(),
		PaymentRefunded{}.EventType(), CreditNoteIssued{}.EventType(), OpeningBalanceRecorded{}.EventType(),
		UnallocatedReceiptRecorded{}.EventType(), CustomerCreditApplied{}.EventType():
		return true
	}
	return false
}

// errNoPosting marks events that post nothing; Postings turns it into ok == false.
var errNoPosting = errors.New("no posting")

func postings(e Event) (JournalEntry, error) {
	switch e := e.(type) {
	case InvoiceIssued:
		return e.entry()
	case InvoiceIssuedHead:
		return e.entry()
	case InvoiceVoided:
		// A void needs nothing settled, so the issue entry had no credit applied.
		issued, err := invoiceIssuedEntry(e.CustomerID, DateOf(e.VoidedAt), memo{}, e.NetTotal, e.TaxTotal, e.Total, Zero(e.Total.Currency()))
		return issued.reversal(DateOf(e.VoidedAt), memo{source: "InvoiceVoided", ref: e.Number}), err
	case PaymentRecorded:
		b := newLines()
		b.debit(paymentSource(e), e.Amount)
		b.credit(AccountReceivable, sumAllocations(e))
		b.credit(AccountCustomerCredit, e.Unapplied)
		return newJournalEntry(e.CustomerID, DateOf(e.ReceivedAt), memo{source: "PaymentRecorded", id: e.PaymentID.u}, b)
	case PaymentRefunded:
		b := newLines()
		b.debit(AccountCustomerCredit, e.Amount)
		b.credit(AccountCash, e.Amount)
		return newJournalEntry(e.CustomerID, DateOf(e.RefundedAt), memo{source: "PaymentRefunded", id: e.PaymentID.u}, b)
	case CreditNoteIssued:
		return creditNoteEntry(e)
	case OpeningBalanceRecorded:
		return openingEntry(e)
	case CustomerCreditApplied:
		return creditAppliedEntry(e)
	case UnallocatedReceiptRecorded:
		b := newLines()
		b.debit(AccountCash, e.Amount)
		b.credit(AccountUnallocated, e.Amount)
		return newJournalEntry(CustomerID{}, DateOf(e.ReceivedAt), memo{source: "UnallocatedReceiptRecorded", id: e.ReceiptID.u}, b)
	}
	return JournalEntry{}, errNoPosting
}

// entry is the journal entry of the invoice's issue.
func (e InvoiceIssuedHead) entry() (JournalEntry, error) {
	return invoiceIssuedEntry(e.CustomerID, e.IssueDate, memo{source: "InvoiceIssued", ref: e.Number}, e.NetTotal, e.TaxTotal, e.Total, e.CreditApplied)
}

func invoiceIssuedEntry(customer CustomerID, date Date, memo memo, net, tax, total, creditApplied Money) (JournalEntry, error) {
	b := newLines()
	b.debit(AccountReceivable, total)
	b.credit(AccountServiceRevenue, net)
	b.credit(AccountTaxPayable, tax)
	b.debit(AccountCustomerCredit, creditApplied)
	b.credit(AccountReceivable, creditApplied)
	return newJournalEntry(customer, date, memo, b)
}

func creditNoteEntry(e CreditNoteIssued) (JournalEntry, error) {
	b := newLines()
	b.debit(AccountRevenueContra, e.Net)
	b.debit(AccountTaxPayable, e.Tax)
	if e.InvoiceID.IsZero() {
		b.credit(AccountReceivable, moneyOf(sumOf(e.Allocations), e.Total.Currency()))
		b.credit(AccountCustomerCredit, e.Unapplied())
	} else {
		b.credit(AccountReceivable, e.Total)
	}
	return newJournalEntry(e.CustomerID, e.Date(), memo{source: "CreditNoteIssued", id: e.CreditNoteID.u}, b)
}

// paymentSource is the account a payment's money comes from: cash, or unallocated receipts
// for the allocation of a receipt.
func paymentSource(e PaymentRecorded) AccountCode {
	if e.ReceiptID.IsZero() {
		return AccountCash
	}
	return AccountUnallocated
}

// sumAllocations adds a payment's allocations (in the payment's currency).
func sumAllocations(e PaymentRecorded) Money {
	return moneyOf(sumOf(e.Allocations), e.Amount.Currency())
}

// lines collects journal lines, leaving out zero amounts and posting negative amounts on
// the other side.
type lines []JournalLine

// newLines has room for the most lines an event posts (five, for an invoice with credit
// applied), so an entry's lines take one allocation.
func newLines() lines { return make(lines, 0, 5) }

func (b *lines) debit(account AccountCode, m Money) { b.add(account, SideDebit, SideCredit, m) }

func (b *lines) credit(account AccountCode, m Money) { b.add(account, SideCredit, SideDebit, m) }

func (b *lines) add(account AccountCode, side, other Side, m Money) {
	switch {
	case m.IsZero():
	case m.IsNegative():
		*b = append(*b, JournalLine{Account: account, Side: other, Amount: m.Neg()})
	default:
		*b = append(*b, JournalLine{Account: account, Side: side, Amount: m})
	}
}
