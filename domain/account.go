package domain

import (
	"iter"
	"slices"
	"time"
)

// AccountState is a customer's account: the consistency boundary for money. It composes the
// customer profile with the customer's invoices, payments and credit notes, the customer
// credit balance, and the periods already billed. Build it only with FoldAccount/ApplyAccount.
type AccountState struct {
	Customer    CustomerState
	Invoices    map[InvoiceID]InvoiceState
	CreditNotes map[CreditNoteID]CreditNoteState
	// Credit is the customer credit balance (journal account 2200); it is never negative.
	Credit Money
	// BilledPeriods maps each period billed by a recurring invoice to that invoice.
	BilledPeriods map[Period]InvoiceID
	// IssuedCount counts invoices issued so far (the last IssueOrder given).
	IssuedCount int
	// OpeningBalance is set once an opening balance is recorded (RecordOpeningBalance);
	// OpeningAsOf is its date: the other system billed every day up to it.
	OpeningBalance bool
	OpeningAsOf    Date
	// payments are the account's payments (Payment, Payments), indexed by (method, reference):
	// the payment recorded first under each (RecordPayment takes a reference once per method).
	payments paymentBook
}

// paymentRef is a payment's method and external reference.
type paymentRef struct {
	method    PaymentMethod
	reference string
}

// PaymentWithReference returns a payment of the account recorded with method and the external
// reference ref (the first recorded, should the history hold several), if ref is not empty.
func (a AccountState) PaymentWithReference(method PaymentMethod, ref string) (PaymentID, bool) {
	if ref == "" {
		return PaymentID{}, false
	}
	return a.payments.withReference(method, ref)
}

// Payment returns the account's payment id.
func (a AccountState) Payment(id PaymentID) (PaymentState, bool) { return a.payments.get(id) }

// HasPayment reports whether the account has a payment id.
func (a AccountState) HasPayment(id PaymentID) bool { return a.payments.has(id) }

// PaymentCount returns how many payments the account has.
func (a AccountState) PaymentCount() int { return a.payments.len() }

// Payments yields every payment of the account, in no particular order.
func (a AccountState) Payments() iter.Seq[PaymentState] { return a.payments.all() }

// OpenInvoices returns the issued, not fully settled invoices, oldest first (earliest issue
// date, then issue order): the order payments settle them in.
func (a AccountState) OpenInvoices() []InvoiceState {
	var open []InvoiceState
	for _, inv := range a.Invoices {
		if inv.IsOpen() {
			open = append(open, inv)
		}
	}
	slices.SortFunc(open, InvoiceState.olderThan)
	return open
}

// Receivable returns the sum outstanding on open invoices (journal account 1100). A sum
// needs no order: it adds them as it finds them, without sorting a copy as OpenInvoices does
// (dunning asks for it on every payment of a customer in arrears).
func (a AccountState) Receivable() (Money, error) {
	total := Zero(a.Customer.Currency)
	for _, inv := range a.Invoices {
		if !inv.IsOpen() {
			continue
		}
		var err error
		if total, err = total.Add(inv.Outstanding); err != nil {
			return Money{}, err
		}
	}
	return total, nil
}

// Balance returns what the customer owes: Receivable minus Credit (AR 1100 − customer
// credit 2200). A negative balance is money the ISP owes the customer.
func (a AccountState) Balance() (Money, error) {
	ar, err := a.Receivable()
	if err != nil {
		return Money{}, err
	}
	return ar.Sub(a.Credit)
}

// AccountCommand is a command on a customer's account stream: RegisterCustomer,
// UpdateCustomerContact, DeactivateCustomer, CreateInvoice, AddInvoiceLine, IssueInvoice,
// VoidInvoice, MarkInvoiceOverdue, GenerateRecurringInvoice, RecordPayment, RefundPayment,
// IssueCreditNote, AdjustBilling, RecordOpeningBalance or ApplyCustomerCredit.
type AccountCommand interface {
	accountCommand()
}

func (RegisterCustomer) accountCommand()         {}
func (UpdateCustomerContact) accountCommand()    {}
func (DeactivateCustomer) accountCommand()       {}
func (CreateInvoice) accountCommand()            {}
func (AddInvoiceLine) accountCommand()           {}
func (IssueInvoice) accountCommand()             {}
func (VoidInvoice) accountCommand()              {}
func (MarkInvoiceOverdue) accountCommand()       {}
func (GenerateRecurringInvoice) accountCommand() {}
func (RecordPayment) accountCommand()            {}
func (RefundPayment) accountCommand()            {}
func (IssueCreditNote) accountCommand()          {}

// DecideAccount decides cmd against the account a at instant now and returns the events to
// append (none when the command changes nothing), or a typed error: see each command's
// documentation. Every command except RegisterCustomer needs a registered customer
// (*NotFoundError otherwise). Any command that would take the customer's receivable or credit
// to 10^MaxTotalAmountDigits is refused with an *AmountLimitError.
func DecideAccount(a AccountState, cmd AccountCommand, now time.Time) ([]Event, error) {
	events, err := decideAccount(a, cmd, now)
	if err != nil || len(events) == 0 {
		return events, err
	}
	if err := checkAccountTotals(a, events); err != nil {
		return nil, err
	}
	return events, nil
}

func decideAccount(a AccountState, cmd AccountCommand, now time.Time) ([]Event, error) {
	if reg, ok := cmd.(RegisterCustomer); ok {
		return decideRegisterCustomer(a.Customer, reg, now)
	}
	if !a.Customer.Registered() {
		return nil, &NotFoundError{Entity: "customer", ID: "(account not registered)"}
	}
	switch c := cmd.(type) {
	case UpdateCustomerContact:
		return decideUpdateCustomerContact(a.Customer, c, now)
	case DeactivateCustomer:
		return decideDeactivateCustomer(a.Customer, c, now)
	case CreateInvoice:
		return a.decideCreateInvoice(c.InvoiceID, Period{}, c.Lines, now)
	case GenerateRecurringInvoice:
		return a.decideGenerateRecurringInvoice(c, now)
	case RecordPayment:
		return decideRecordPayment(a, c, now)
	case RefundPayment:
		return decideRefundPayment(a, c, now)
	case IssueCreditNote:
		return decideIssueCreditNote(a, c, now)
	case AdjustBilling:
		return a.decideAdjustBilling(c, now)
	case RecordOpeningBalance:
		return a.decideRecordOpeningBalance(c, now)
	case ApplyCustomerCredit:
		return a.decideApplyCustomerCredit(now)
	}
	return a.decideOnInvoice(cmd, now)
}

// invoiceCommand is an account command that acts on one existing invoice.
type invoiceCommand interface {
	AccountCommand
	invoice() InvoiceID
}

func (c AddInvoiceLine) invoice() InvoiceID     { return c.InvoiceID }
func (c IssueInvoice) invoice() InvoiceID       { return c.InvoiceID }
func (c VoidInvoice) invoice() InvoiceID        { return c.InvoiceID }
func (c MarkInvoiceOverdue) invoice() InvoiceID { return c.InvoiceID }

// decideOnInvoice looks up the invoice a command names (*NotFoundError if there is none) and
// decides the command on it.
func (a AccountState) decideOnInvoice(cmd AccountCommand, now time.Time) ([]Event, error) {
	ic, ok := cmd.(invoiceCommand)
	if !ok {
		return nil, invalid("account command", typeName(cmd), "unknown")
	}
	inv, found := a.Invoices[ic.invoice()]
	if !found {
		return nil, &NotFoundError{Entity: "invoice", ID: ic.invoice().String()}
	}
	customer := a.Customer.ID
	switch c := cmd.(type) {
	case AddInvoiceLine:
		return decideAddInvoiceLine(inv, customer, c, now)
	case IssueInvoice:
		if !a.Customer.Active() {
			return nil, &CustomerInactiveError{Customer: customer}
		}
		return decideIssueInvoice(inv, issueContext{customer: customer, credit: a.Credit, numbers: a.invoiceNumbers()}, c, now)
	case VoidInvoice:
		return decideVoidInvoice(inv, customer, c, now)
	case MarkInvoiceOverdue:
		return decideMarkInvoiceOverdue(inv, customer, now)
	}
	return nil, invalid("invoice command", typeName(cmd), "unknown")
}

// invoiceNumbers maps every invoice number used in the account to its invoice.
func (a AccountState) invoiceNumbers() map[string]InvoiceID {
	numbers := make(map[string]InvoiceID, len(a.Invoices))
	for _, inv := range a.Invoices {
		if inv.Number != "" {
			numbers[inv.Number] = inv.ID
		}
	}
	return numbers
}

// decideCreateInvoice opens a draft for an active customer; period is set for recurring
// invoices only.
func (a AccountState) decideCreateInvoice(id InvoiceID, period Period, inputs []LineInput, now time.Time) ([]Event, error) {
	if !a.Customer.Active() {
		return nil, &CustomerInactiveError{Customer: a.Customer.ID}
	}
	if err := checkID(id); err != nil {
		return nil, err
	}
	if _, ok := a.Invoices[id]; ok {
		return nil, &AlreadyExistsError{Entity: "invoice", ID: id.String()}
	}
	lines, err := newInvoiceLines(id, inputs, a.Customer.Currency)
	if err != nil {
		return nil, err
	}
	if _, _, _, err := boundedTotals(lines, a.Customer.Currency); err != nil {
		return nil, err
	}
	return []Event{InvoiceCreated{
		CustomerID: a.Customer.ID, InvoiceID: id, Currency: a.Customer.Currency,
		Period: period, Lines: lines, CreatedAt: now.UTC(),
	}}, nil
}
