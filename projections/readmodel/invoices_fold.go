package readmodel

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/projections"
)

// Invoice statuses, as the domain names them.
const (
	statusDraft         = "draft"
	statusIssued        = "issued"
	statusPartiallyPaid = "partially_paid"
	statusPaid          = "paid"
	statusVoid          = "void"
)

// invoiceRow is an invoices row being folded.
type invoiceRow struct {
	key
	isNew                            bool // not in the table yet: COPY, not UPDATE
	customer                         uuid.UUID
	number, status, currency, period string
	flagged                          bool // marked overdue (overdue = flagged and still open)
	issueDate, dueDate               domain.Date
	net, tax, total, creditApplied   decimal.Decimal
	paid, credited, outstanding      decimal.Decimal
	lineCount                        int
	createdAt, issuedAt, flaggedAt   time.Time
	voidedAt                         time.Time
	voidReason                       string
	position                         int64
}

func (r *invoiceRow) open() bool { return r.status == statusIssued || r.status == statusPartiallyPaid }

// settle takes amount off the outstanding balance, as a payment or customer credit
// (byCreditNote false) or as a credit note (true), and moves the status on, as
// domain.InvoiceState does.
func (r *invoiceRow) settle(ev *projections.Event, amount decimal.Decimal, byCreditNote bool) error {
	if amount.IsZero() {
		r.settlementStatus()
		return nil
	}
	if !r.open() || amount.IsNegative() {
		return invariantf(ev, "invoice %s (%s) settled by %s", r.id, r.status, amount)
	}
	outstanding := r.outstanding.Sub(amount)
	if outstanding.IsNegative() {
		return invariantf(ev, "invoice %s: %s settled with only %s outstanding", r.id, amount, r.outstanding)
	}
	r.outstanding = outstanding
	if byCreditNote {
		r.credited = r.credited.Add(amount)
	} else {
		r.paid = r.paid.Add(amount)
	}
	r.settlementStatus()
	return nil
}

func (r *invoiceRow) settlementStatus() {
	switch {
	case r.outstanding.IsZero():
		r.status = statusPaid
	case r.paid.IsPositive() || r.credited.IsPositive():
		r.status = statusPartiallyPaid
	}
}

// paymentRow is a payments row being folded.
type paymentRow struct {
	key
	isNew                        bool
	customer                     uuid.UUID
	currency, method, reference  string
	amount, allocated, unapplied decimal.Decimal
	refunded                     decimal.Decimal
	receivedAt, recordedAt       time.Time
	position                     int64
}

func (p *paymentRow) status() string {
	switch {
	case p.refunded.IsZero():
		return "recorded"
	case p.refunded.Equal(p.amount):
		return "refunded"
	}
	return "partially_refunded"
}

// invoiceBatch folds the invoices projection: the rows it changes and the rows it inserts.
// Apply uses one per batch; a Load (heldLoad) keeps one across batches.
type invoiceBatch struct {
	tenants     []string // per event of the batch; "" for events this projection skips
	loadInv     keySet
	loadPay     keySet
	invoices    map[key]*invoiceRow
	payments    map[key]*paymentRow
	lines       copyRows
	allocations copyRows
	creditNotes copyRows
	noteLines   copyRows
	// noteAllocations and creditApplications are the invoices credit notes against the
	// account and customer credit settled.
	noteAllocations    copyRows
	creditApplications copyRows
}

func newInvoiceBatch() *invoiceBatch {
	return &invoiceBatch{invoices: map[key]*invoiceRow{}, payments: map[key]*paymentRow{}}
}

func (b *invoiceBatch) held() int { return len(b.invoices) + len(b.payments) }

// prepare finds the tenant of every event of evs the projection uses and the invoices and
// payments they change that are neither held nor created by evs (they are read from the
// tables).
func (b *invoiceBatch) prepare(evs []projections.Event) error {
	b.tenants = make([]string, len(evs))
	b.loadInv, b.loadPay = keySet{}, keySet{}
	created, recorded := map[key]bool{}, map[key]bool{}
	needInvoice := func(t string, id domain.InvoiceID) {
		if k := (key{t, id.UUID()}); !created[k] && b.invoices[k] == nil {
			b.loadInv.add(k)
		}
	}
	for i := range evs {
		ev := &evs[i]
		if !isInvoicesEvent(ev.Payload) {
			continue
		}
		t, err := tenantOf(ev)
		if err != nil {
			return err
		}
		b.tenants[i] = t
		switch e := ev.Payload.(type) {
		case domain.InvoiceCreated:
			created[key{t, e.InvoiceID.UUID()}] = true
		case domain.InvoiceLineAdded:
			needInvoice(t, e.InvoiceID)
		case domain.InvoiceIssued:
			needInvoice(t, e.InvoiceID)
		case domain.InvoiceIssuedHead:
			needInvoice(t, e.InvoiceID)
		case domain.InvoiceVoided:
			needInvoice(t, e.InvoiceID)
		case domain.InvoiceMarkedOverdue:
			needInvoice(t, e.InvoiceID)
		case domain.PaymentRecorded:
			recorded[key{t, e.PaymentID.UUID()}] = true
			for _, a := range e.Allocations {
				needInvoice(t, a.InvoiceID)
			}
		case domain.PaymentRefunded:
			if k := (key{t, e.PaymentID.UUID()}); !recorded[k] && b.payments[k] == nil {
				b.loadPay.add(k)
			}
		case domain.CreditNoteIssued:
			if !e.InvoiceID.IsZero() {
				needInvoice(t, e.InvoiceID)
			}
			for _, a := range e.Allocations {
				needInvoice(t, a.InvoiceID)
			}
		case domain.OpeningBalanceRecorded:
			if e.Amount.IsPositive() {
				created[key{t, e.InvoiceID.UUID()}] = true
			}
		case domain.CustomerCreditApplied:
			for _, a := range e.Allocations {
				needInvoice(t, a.InvoiceID)
			}
		}
	}
	return nil
}

// fold prepares evs, reads the rows they need and folds them in memory.
func (b *invoiceBatch) fold(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	if err := b.prepare(evs); err != nil {
		return err
	}
	if err := b.load(ctx, tx); err != nil {
		return err
	}
	for i := range evs {
		if b.tenants[i] == "" {
			continue
		}
		if err := b.apply(&evs[i], b.tenants[i]); err != nil {
			return err
		}
	}
	return nil
}

func isInvoicesEvent(e domain.Event) bool {
	switch e.(type) {
	case domain.InvoiceCreated, domain.InvoiceLineAdded, domain.InvoiceIssued, domain.InvoiceIssuedHead, domain.InvoiceVoided,
		domain.InvoiceMarkedOverdue, domain.PaymentRecorded, domain.PaymentRefunded, domain.CreditNoteIssued,
		domain.OpeningBalanceRecorded, domain.CustomerCreditApplied:
		return true
	}
	return false
}

func (b *invoiceBatch) invoice(ev *projections.Event, t string, id domain.InvoiceID) (*invoiceRow, error) {
	r := b.invoices[key{t, id.UUID()}]
	if r == nil {
		return nil, invariantf(ev, "unknown invoice %s", id)
	}
	return r, nil
}

// apply folds one event of tenant t.
func (b *invoiceBatch) apply(ev *projections.Event, t string) error {
	switch e := ev.Payload.(type) {
	case domain.InvoiceCreated:
		return b.created(ev, t, e)
	case domain.InvoiceLineAdded:
		return b.lineAdded(ev, t, e)
	case domain.InvoiceIssued:
		return b.issued(ev, t, e.InvoiceIssuedHead)
	case domain.InvoiceIssuedHead:
		return b.issued(ev, t, e)
	case domain.InvoiceVoided:
		return b.voided(ev, t, e)
	case domain.InvoiceMarkedOverdue:
		r, err := b.invoice(ev, t, e.InvoiceID)
		if err != nil {
			return err
		}
		if !r.open() || r.flagged {
			return invariantf(ev, "invoice %s marked overdue while %s", e.InvoiceID, r.status)
		}
		r.flagged, r.flaggedAt, r.position = true, e.MarkedAt, pos(ev)
	case domain.PaymentRecorded:
		return b.paymentRecorded(ev, t, e)
	case domain.PaymentRefunded:
		return b.paymentRefunded(ev, t, e)
	case domain.CreditNoteIssued:
		return b.creditNote(ev, t, e)
	case domain.OpeningBalanceRecorded:
		return b.openingBalance(ev, t, e)
	case domain.CustomerCreditApplied:
		return b.creditApplied(ev, t, e)
	}
	return nil
}

func (b *invoiceBatch) created(ev *projections.Event, t string, e domain.InvoiceCreated) error {
	k := key{t, e.InvoiceID.UUID()}
	if b.invoices[k] != nil {
		return invariantf(ev, "invoice %s created twice", e.InvoiceID)
	}
	zero := zeroIn(e.Currency)
	r := &invoiceRow{key: k, isNew: true, customer: e.CustomerID.UUID(), status: statusDraft, currency: e.Currency.Code(),
		period: e.Period.String(), net: zero, tax: zero, total: zero, creditApplied: zero, paid: zero, credited: zero,
		outstanding: zero, createdAt: e.CreatedAt, position: pos(ev)}
	b.invoices[k] = r
	for _, l := range e.Lines {
		b.addLine(r, l)
	}
	return nil
}

func (b *invoiceBatch) lineAdded(ev *projections.Event, t string, e domain.InvoiceLineAdded) error {
	r, err := b.invoice(ev, t, e.InvoiceID)
	if err != nil {
		return err
	}
	if r.status != statusDraft {
		return invariantf(ev, "line added to %s invoice %s", r.status, e.InvoiceID)
	}
	b.addLine(r, e.Line)
	r.position = pos(ev)
	return nil
}

// addLine adds a draft line: its row is inserted and the draft's totals grow. (InvoiceIssued
// repeats the lines the draft has; the domain never changes a line, so they are not written
// again.)
func (b *invoiceBatch) addLine(r *invoiceRow, l domain.InvoiceLine) {
	r.lineCount++
	r.net, r.tax = r.net.Add(l.Net.Amount()), r.tax.Add(l.Tax.Amount())
	r.total = r.net.Add(r.tax)
	writeLine(&b.lines, r.tenant, r.id, r.lineCount, r.currency, l)
}

// writeLine writes line number no of document doc (an invoice or a credit note).
func writeLine(c *copyRows, tenant string, doc uuid.UUID, no int, currency string, l domain.InvoiceLine) {
	c.row(19)
	c.text(tenant)
	c.uuid(doc)
	c.int4(no)
	c.uuid(l.LineID.UUID())
	c.text(l.Description)
	c.numeric(l.Quantity.Decimal())
	c.numeric(l.UnitPrice.Amount())
	c.numeric(l.Net.Amount())
	c.numeric(l.TaxRate.Decimal())
	c.numeric(l.Tax.Amount())
	c.text(currency)
	c.uuidOrNull(l.ServiceID.UUID())
	c.textOrNull(l.PlanCode.String())
	c.textOrNull(l.Period.String())
	if p := l.Proration; p != nil {
		c.int4(p.DaysBilled)
		c.int4(p.DaysInPeriod)
		c.numeric(p.FullPrice.Amount())
	} else {
		c.null()
		c.null()
		c.null()
	}
	c.dateOrNull(l.From)
	c.dateOrNull(l.Through)
}

func (b *invoiceBatch) issued(ev *projections.Event, t string, e domain.InvoiceIssuedHead) error {
	r, err := b.invoice(ev, t, e.InvoiceID)
	if err != nil {
		return err
	}
	if r.status != statusDraft || r.currency != e.Currency.Code() {
		return invariantf(ev, "invoice %s issued while %s in %s", e.InvoiceID, r.status, r.currency)
	}
	r.status, r.number, r.issueDate, r.dueDate, r.issuedAt = statusIssued, e.Number, e.IssueDate, e.DueDate, e.IssuedAt
	r.net, r.tax, r.total = e.NetTotal.Amount(), e.TaxTotal.Amount(), e.Total.Amount()
	r.creditApplied, r.outstanding, r.position = e.CreditApplied.Amount(), e.Total.Amount(), pos(ev)
	return r.settle(ev, e.CreditApplied.Amount(), false)
}

func (b *invoiceBatch) voided(ev *projections.Event, t string, e domain.InvoiceVoided) error {
	r, err := b.invoice(ev, t, e.InvoiceID)
	if err != nil {
		return err
	}
	if r.status != statusIssued {
		return invariantf(ev, "invoice %s voided while %s", e.InvoiceID, r.status)
	}
	r.status, r.outstanding, r.voidedAt, r.voidReason, r.position = statusVoid, zeroIn(e.Total.Currency()), e.VoidedAt, e.Reason, pos(ev)
	return nil
}

func (b *invoiceBatch) paymentRecorded(ev *projections.Event, t string, e domain.PaymentRecorded) error {
	k := key{t, e.PaymentID.UUID()}
	if b.payments[k] != nil {
		return invariantf(ev, "payment %s recorded twice", e.PaymentID)
	}
	cur := e.Amount.Currency()
	p := &paymentRow{key: k, isNew: true, customer: e.CustomerID.UUID(), currency: cur.Code(), method: e.Method.String(),
		reference: e.ExternalReference, amount: e.Amount.Amount(), allocated: zeroIn(cur), unapplied: e.Unapplied.Amount(),
		refunded: zeroIn(cur), receivedAt: e.ReceivedAt, recordedAt: e.RecordedAt, position: pos(ev)}
	for i, a := range e.Allocations {
		r, err := b.invoice(ev, t, a.InvoiceID)
		if err != nil {
			return err
		}
		if err := r.settle(ev, a.Amount.Amount(), false); err != nil {
			return err
		}
		r.position = pos(ev)
		p.allocated = p.allocated.Add(a.Amount.Amount())
		c := &b.allocations
		c.row(9)
		c.text(t)
		c.uuid(p.id)
		c.int4(i + 1)
		c.uuid(r.id)
		c.uuid(p.customer)
		c.numeric(a.Amount.Amount())
		c.text(p.currency)
		c.timestamptz(e.ReceivedAt)
		c.int8(pos(ev))
	}
	b.payments[k] = p
	return nil
}

func (b *invoiceBatch) paymentRefunded(ev *projections.Event, t string, e domain.PaymentRefunded) error {
	p := b.payments[key{t, e.PaymentID.UUID()}]
	if p == nil {
		return invariantf(ev, "refund of unknown payment %s", e.PaymentID)
	}
	refunded := p.refunded.Add(e.Amount.Amount())
	if refunded.GreaterThan(p.amount) {
		return invariantf(ev, "payment %s refunded %s of %s", e.PaymentID, refunded, p.amount)
	}
	p.refunded, p.position = refunded, pos(ev)
	return nil
}

func (b *invoiceBatch) creditNote(ev *projections.Event, t string, e domain.CreditNoteIssued) error {
	if !e.InvoiceID.IsZero() {
		r, err := b.invoice(ev, t, e.InvoiceID)
		if err != nil {
			return err
		}
		if err := r.settle(ev, e.Total.Amount(), true); err != nil {
			return err
		}
		r.position = pos(ev)
	}
	cur := e.Total.Currency().Code()
	for i, a := range e.Allocations { // a credit note against the account settles open invoices
		r, err := b.invoice(ev, t, a.InvoiceID)
		if err != nil {
			return err
		}
		if err := r.settle(ev, a.Amount.Amount(), true); err != nil {
			return err
		}
		r.position = pos(ev)
		c := &b.noteAllocations
		c.row(9)
		c.text(t)
		c.uuid(e.CreditNoteID.UUID())
		c.int4(i + 1)
		c.uuid(r.id)
		c.uuid(e.CustomerID.UUID())
		c.numeric(a.Amount.Amount())
		c.text(cur)
		c.timestamptz(e.IssuedAt)
		c.int8(pos(ev))
	}
	for i, l := range e.Lines {
		writeLine(&b.noteLines, t, e.CreditNoteID.UUID(), i+1, cur, l)
	}
	c := &b.creditNotes
	c.row(15)
	c.text(t)
	c.uuid(e.CreditNoteID.UUID())
	c.uuid(e.CustomerID.UUID())
	c.uuidOrNull(e.InvoiceID.UUID())
	c.numeric(e.Net.Amount())
	c.numeric(e.TaxRate.Decimal())
	c.numeric(e.Tax.Amount())
	c.numeric(e.Total.Amount())
	c.text(cur)
	c.text(e.Reason)
	c.timestamptz(e.IssuedAt)
	c.date(e.Date())
	c.int4(len(e.Lines))
	c.int8(pos(ev))
	c.numeric(e.Unapplied().Amount())
	return nil
}

// creditApplied settles the invoices customer credit settles: as paid and as credit applied,
// as credit applied at issue is; one credit_applications row per invoice.
func (b *invoiceBatch) creditApplied(ev *projections.Event, t string, e domain.CustomerCreditApplied) error {
	for i, a := range e.Allocations {
		r, err := b.invoice(ev, t, a.InvoiceID)
		if err != nil {
			return err
		}
		if err := r.settle(ev, a.Amount.Amount(), false); err != nil {
			return err
		}
		r.creditApplied, r.position = r.creditApplied.Add(a.Amount.Amount()), pos(ev)
		c := &b.creditApplications
		c.row(9)
		c.text(t)
		c.int8(pos(ev))
		c.int4(i + 1)
		c.uuid(r.id)
		c.uuid(e.CustomerID.UUID())
		c.numeric(a.Amount.Amount())
		c.text(r.currency)
		c.date(e.AppliedOn)
		c.timestamptz(e.AppliedAt)
	}
	return nil
}

// openingBalance opens the item a positive opening balance is: an issued invoice without
// lines. (A negative one is customer credit, which this projection does not keep.)
func (b *invoiceBatch) openingBalance(ev *projections.Event, t string, e domain.OpeningBalanceRecorded) error {
	if !e.Amount.IsPositive() {
		return nil
	}
	k := key{t, e.InvoiceID.UUID()}
	if b.invoices[k] != nil {
		return invariantf(ev, "opening balance item %s exists", e.InvoiceID)
	}
	cur := e.Amount.Currency()
	zero := zeroIn(cur)
	b.invoices[k] = &invoiceRow{key: k, isNew: true, customer: e.CustomerID.UUID(), number: domain.OpeningInvoiceNumber,
		status: statusIssued, currency: cur.Code(), issueDate: e.AsOf, dueDate: e.AsOf, net: e.Amount.Amount(), tax: zero,
		total: e.Amount.Amount(), creditApplied: zero, paid: zero, credited: zero, outstanding: e.Amount.Amount(),
		createdAt: e.RecordedAt, issuedAt: e.RecordedAt, position: pos(ev)}
	return nil
}
