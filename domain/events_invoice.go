package domain

import "time"

// InvoiceLine is one line of an invoice (or credit note) as recorded in events: Net is
// Quantity × UnitPrice and Tax is Net × TaxRate, each rounded half-up to the minor unit.
// ServiceID, PlanCode, Period, From and Through are set on a service's lines (recurring and
// adjustment lines) and null otherwise: the line bills the service for the days From through
// Through (inclusive) of Period at the plan PlanCode, Quantity times each (a negative
// UnitPrice credits them). Proration is set when those are fewer than all days of Period.
// Lines recorded before From and Through existed have them null (see reconcile.go).
type InvoiceLine struct {
	LineID      LineID     `json:"line_id"`
	Description string     `json:"description"`
	Quantity    Quantity   `json:"quantity"`
	UnitPrice   Money      `json:"unit_price"`
	Net         Money      `json:"net"`
	TaxRate     TaxRate    `json:"tax_rate"`
	Tax         Money      `json:"tax"`
	ServiceID   ServiceID  `json:"service_id"`
	PlanCode    PlanCode   `json:"plan_code"`
	Period      Period     `json:"period"`
	Proration   *Proration `json:"proration"`
	From        Date       `json:"from"`
	Through     Date       `json:"through"`
}

// Proration explains a prorated line: FullPrice × DaysBilled / DaysInPeriod, rounded half-up,
// is the line's unit price (negated on a credit line).
type Proration struct {
	DaysBilled   int   `json:"days_billed"`
	DaysInPeriod int   `json:"days_in_period"`
	FullPrice    Money `json:"full_price"`
}

// InvoiceCreated opens a draft invoice, with its first lines (possibly none). Period is set
// only on recurring invoices (see GenerateRecurringInvoice).
type InvoiceCreated struct {
	CustomerID CustomerID    `json:"customer_id"`
	InvoiceID  InvoiceID     `json:"invoice_id"`
	Currency   Currency      `json:"currency"`
	Period     Period        `json:"period"`
	Lines      []InvoiceLine `json:"lines"`
	CreatedAt  time.Time     `json:"created_at"`
}

// InvoiceLineAdded adds one line to a draft invoice.
type InvoiceLineAdded struct {
	CustomerID CustomerID  `json:"customer_id"`
	InvoiceID  InvoiceID   `json:"invoice_id"`
	Line       InvoiceLine `json:"line"`
	AddedAt    time.Time   `json:"added_at"`
}

// InvoiceIssued makes a draft invoice final and posts it to the journal. It repeats every
// line and total so a reader needs no other event. CreditApplied is the customer credit
// (earlier overpayments and account credit notes) that settled part or all of the invoice at
// issue; the invoice's outstanding amount is Total - CreditApplied.
type InvoiceIssued struct {
	InvoiceIssuedHead
	Lines []InvoiceLine `json:"lines"`
}

// InvoiceIssuedHead is an InvoiceIssued without its lines: its number, dates and totals,
// everything its journal entry, the customer's balance and the invoice's header need. Readers
// that never look at lines decode only this (eventstore/codec.DecodeTrimmed); domain.Postings
// gives the same entry for the head as for the whole event.
type InvoiceIssuedHead struct {
	CustomerID    CustomerID `json:"customer_id"`
	InvoiceID     InvoiceID  `json:"invoice_id"`
	Number        string     `json:"number"`
	IssueDate     Date       `json:"issue_date"`
	DueDate       Date       `json:"due_date"`
	Currency      Currency   `json:"currency"`
	Period        Period     `json:"period"`
	NetTotal      Money      `json:"net_total"`
	TaxTotal      Money      `json:"tax_total"`
	Total         Money      `json:"total"`
	CreditApplied Money      `json:"credit_applied"`
	IssuedAt      time.Time  `json:"issued_at"`
}

// InvoiceVoided cancels an issued invoice on which nothing was settled, and posts the exact
// reversal of its InvoiceIssued entry; it carries the amounts it reverses.
type InvoiceVoided struct {
	CustomerID CustomerID `json:"customer_id"`
	InvoiceID  InvoiceID  `json:"invoice_id"`
	Number     string     `json:"number"`
	NetTotal   Money      `json:"net_total"`
	TaxTotal   Money      `json:"tax_total"`
	Total      Money      `json:"total"`
	Reason     string     `json:"reason"`
	VoidedAt   time.Time  `json:"voided_at"`
}

// InvoiceMarkedOverdue flags an open invoice as past its due date with Outstanding still owed.
// The flag stays while payments settle the rest; the invoice then becomes paid as usual.
type InvoiceMarkedOverdue struct {
	CustomerID  CustomerID `json:"customer_id"`
	InvoiceID   InvoiceID  `json:"invoice_id"`
	Number      string     `json:"number"`
	DueDate     Date       `json:"due_date"`
	Outstanding Money      `json:"outstanding"`
	MarkedAt    time.Time  `json:"marked_at"`
}

// EventType returns "InvoiceCreated".
func (InvoiceCreated) EventType() string { return "InvoiceCreated" }

// SchemaVersion returns 1.
func (InvoiceCreated) SchemaVersion() int { return 1 }

// EventType returns "InvoiceLineAdded".
func (InvoiceLineAdded) EventType() string { return "InvoiceLineAdded" }

// SchemaVersion returns 1.
func (InvoiceLineAdded) SchemaVersion() int { return 1 }

// EventType returns "InvoiceIssued".
func (InvoiceIssued) EventType() string { return "InvoiceIssued" }

// SchemaVersion returns 1.
func (InvoiceIssued) SchemaVersion() int { return 1 }

// EventType returns "InvoiceIssued": the head stands for the event it was decoded from.
func (InvoiceIssuedHead) EventType() string { return "InvoiceIssued" }

// SchemaVersion returns 1.
func (InvoiceIssuedHead) SchemaVersion() int { return 1 }

// EventType returns "InvoiceVoided".
func (InvoiceVoided) EventType() string { return "InvoiceVoided" }

// SchemaVersion returns 1.
func (InvoiceVoided) SchemaVersion() int { return 1 }

// EventType returns "InvoiceMarkedOverdue".
func (InvoiceMarkedOverdue) EventType() string { return "InvoiceMarkedOverdue" }

// SchemaVersion returns 1.
func (InvoiceMarkedOverdue) SchemaVersion() int { return 1 }
