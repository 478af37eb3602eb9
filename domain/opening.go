package domain

import "time"

// OpeningInvoiceNumber numbers the open item an opening receivable becomes.
const OpeningInvoiceNumber = "OPENING-BALANCE"

// RecordOpeningBalance moves a customer's balance over from another system, as of AsOf (zero:
// today; not in the future), once per account. A positive Amount is owed by the customer: it
// becomes an open item (an issued invoice numbered OpeningInvoiceNumber, id InvoiceID, due on
// AsOf) that payments settle oldest first like any invoice. A negative Amount is owed to the
// customer: it becomes customer credit. Both post against opening-balance equity (3000), not
// revenue. Credit and open invoices then settle each other at once, as a payment would: a
// negative balance settles invoices already open, oldest first, and customer credit already
// held settles a positive balance's open item (a CustomerCreditApplied after the
// OpeningBalanceRecorded, dated AsOf or the issue date of the newest invoice it settles).
//
// Errors: *AlreadyExistsError when the account has an opening balance; *InvalidValueError
// for a zero amount, a foreign currency, a future date or a missing id.
type RecordOpeningBalance struct {
	InvoiceID InvoiceID
	Amount    Money
	AsOf      Date
}

func (RecordOpeningBalance) accountCommand() {}

// OpeningBalanceRecorded is a balance moved over from another system: Amount (positive: owed
// by the customer, as open item InvoiceID; negative: owed to the customer, as customer credit)
// as of AsOf.
type OpeningBalanceRecorded struct {
	CustomerID CustomerID `json:"customer_id"`
	InvoiceID  InvoiceID  `json:"invoice_id"`
	Amount     Money      `json:"amount"`
	AsOf       Date       `json:"as_of"`
	RecordedAt time.Time  `json:"recorded_at"`
}

// EventType returns "OpeningBalanceRecorded".
func (OpeningBalanceRecorded) EventType() string { return "OpeningBalanceRecorded" }

// SchemaVersion returns 1.
func (OpeningBalanceRecorded) SchemaVersion() int { return 1 }

func (e OpeningBalanceRecorded) accountCustomer() CustomerID { return e.CustomerID }

func (a AccountState) decideRecordOpeningBalance(c RecordOpeningBalance, now time.Time) ([]Event, error) {
	if a.OpeningBalance {
		return nil, &AlreadyExistsError{Entity: "opening balance of customer", ID: a.Customer.ID.String()}
	}
	if c.Amount.IsZero() {
		return nil, invalid("opening balance", c.Amount.AmountString(), "must not be zero")
	}
	if err := checkAmount("opening balance", c.Amount.Abs(), a.Customer.Currency, false); err != nil {
		return nil, err
	}
	asOf, err := businessDate("as of", c.AsOf, now)
	if err != nil {
		return nil, err
	}
	e := OpeningBalanceRecorded{CustomerID: a.Customer.ID, Amount: c.Amount, AsOf: asOf, RecordedAt: now.UTC()}
	if c.Amount.IsPositive() {
		if err := checkID(c.InvoiceID); err != nil {
			return nil, err
		}
		if _, ok := a.Invoices[c.InvoiceID]; ok {
			return nil, &AlreadyExistsError{Entity: "invoice", ID: c.InvoiceID.String()}
		}
		e.InvoiceID = c.InvoiceID
	}
	opened, err := ApplyAccount(a, e)
	if err != nil {
		return nil, err
	}
	if applied, ok := opened.applyCredit(asOf, now); ok {
		return []Event{e, applied}, nil
	}
	return []Event{e}, nil
}

// applyOpeningBalance opens the item a positive balance is, or adds a negative one to credit.
func (a AccountState) applyOpeningBalance(e OpeningBalanceRecorded, c *accountCopies) (AccountState, error) {
	if a.OpeningBalance || e.Amount.Currency() != a.Customer.Currency || e.Amount.IsZero() {
		return a, invariantf("opening balance %s of customer %s twice or in another currency", e.Amount, e.CustomerID)
	}
	a.OpeningBalance, a.OpeningAsOf = true, e.AsOf
	if e.Amount.IsNegative() {
		credit, err := a.Credit.Add(e.Amount.Neg())
		if err != nil {
			return a, invariantf("opening balance: %v", err)
		}
		a.Credit = credit
		return a, nil
	}
	if _, exists := a.Invoices[e.InvoiceID]; exists || e.InvoiceID.IsZero() {
		return a, invariantf("opening balance item %s exists or has no id", e.InvoiceID)
	}
	zero := Zero(a.Customer.Currency)
	a.IssuedCount++
	a.Invoices = put(a.Invoices, e.InvoiceID, InvoiceState{
		ID: e.InvoiceID, Status: InvoiceStatusIssued, Currency: a.Customer.Currency, Number: OpeningInvoiceNumber,
		IssueDate: e.AsOf, DueDate: e.AsOf, NetTotal: e.Amount, TaxTotal: zero, Total: e.Amount,
		Settled: zero, Credited: zero, Outstanding: e.Amount, IssueOrder: a.IssuedCount,
	}, &c.invoices, c.logged)
	return a, nil
}

// openingEntry posts an opening balance against opening-balance equity.
func openingEntry(e OpeningBalanceRecorded) (JournalEntry, error) {
	b := newLines()
	if e.Amount.IsPositive() {
		b.debit(AccountReceivable, e.Amount)
		b.credit(AccountOpeningEquity, e.Amount)
	} else {
		b.debit(AccountOpeningEquity, e.Amount.Neg())
		b.credit(AccountCustomerCredit, e.Amount.Neg())
	}
	return newJournalEntry(e.CustomerID, e.AsOf, memo{source: "OpeningBalanceRecorded", id: e.CustomerID.u}, b)
}
