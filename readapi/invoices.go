package readapi

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
)

// invoiceFilters are the query parameters of the invoice lists (the customer's own list has
// the customer in its path, so it takes all but the first).
var invoiceFilters = []string{"customer_id", "status", "overdue", "due_before", "due_after", "period"}

var invoiceStatuses = []string{"draft", "issued", "partially_paid", "paid", "void"}

// Invoice is an invoice without its lines.
type Invoice struct {
	InvoiceID       string  `json:"invoice_id"`
	CustomerID      string  `json:"customer_id"`
	Number          *string `json:"number"`
	Status          string  `json:"status"`
	Overdue         bool    `json:"overdue"`
	Currency        string  `json:"currency"`
	Period          *string `json:"period"`
	IssueDate       *string `json:"issue_date"`
	DueDate         *string `json:"due_date"`
	NetTotal        Money   `json:"net_total"`
	TaxTotal        Money   `json:"tax_total"`
	Total           Money   `json:"total"`
	CreditApplied   Money   `json:"credit_applied"`
	AmountPaid      Money   `json:"amount_paid"`
	AmountCredited  Money   `json:"amount_credited"`
	Outstanding     Money   `json:"outstanding"`
	LineCount       int     `json:"line_count"`
	CreatedAt       string  `json:"created_at"`
	IssuedAt        *string `json:"issued_at"`
	MarkedOverdueAt *string `json:"marked_overdue_at"`
	VoidedAt        *string `json:"voided_at"`
	VoidReason      *string `json:"void_reason"`
}

const invoiceColumns = `SELECT invoice_id::text, customer_id::text, number, status, overdue, currency, period,
issue_date::text, due_date::text, net_total::text, tax_total::text, total::text, credit_applied::text,
amount_paid::text, amount_credited::text, outstanding::text, line_count, created_at, issued_at, marked_overdue_at,
voided_at, void_reason FROM invoices`

func scanInvoice(row pgx.Row) (Invoice, error) {
	var i Invoice
	var number, period, issue, due, reason pgtype.Text
	var amounts [7]string
	var created time.Time
	var issued, flagged, voided pgtype.Timestamptz
	err := row.Scan(&i.InvoiceID, &i.CustomerID, &number, &i.Status, &i.Overdue, &i.Currency, &period, &issue, &due,
		&amounts[0], &amounts[1], &amounts[2], &amounts[3], &amounts[4], &amounts[5], &amounts[6], &i.LineCount,
		&created, &issued, &flagged, &voided, &reason)
	c := i.Currency
	i.NetTotal, i.TaxTotal, i.Total = money(amounts[0], c), money(amounts[1], c), money(amounts[2], c)
	i.CreditApplied, i.AmountPaid, i.AmountCredited = money(amounts[3], c), money(amounts[4], c), money(amounts[5], c)
	i.Outstanding = money(amounts[6], c)
	i.Number, i.Period, i.IssueDate, i.DueDate, i.VoidReason = textOrNil(number), textOrNil(period), textOrNil(issue), textOrNil(due), textOrNil(reason)
	i.CreatedAt, i.IssuedAt, i.MarkedOverdueAt, i.VoidedAt = instant(created), instantOrNil(issued), instantOrNil(flagged), instantOrNil(voided)
	return i, err
}

// listInvoices: GET /v1/invoices?customer_id=&status=&overdue=&due_before=&due_after=&period=
// and GET /v1/customers/{customer_id}/invoices?status=&... (the customer's; an unknown
// customer has none).
func listInvoices(ctx context.Context, r *request) (any, error) {
	customer := r.queryID("customer_id")
	if r.vars("customer_id") != "" {
		customer = r.pathID("customer_id")
	}
	status := r.enum("status", invoiceStatuses...)
	overdue, hasOverdue := r.boolean("overdue")
	before, hasBefore := r.date("due_before")
	after, hasAfter := r.date("due_after")
	period, hasPeriod := r.month("period")
	key := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	q := newQuery(invoiceColumns, r.tenant)
	if customer != "" {
		q.and("customer_id = ?", customer)
	}
	if status != "" {
		q.and("status = ?", status)
	}
	if hasOverdue {
		q.and("overdue = ?", overdue)
	}
	if hasBefore {
		q.and("due_date < ?", before)
	}
	if hasAfter {
		q.and("due_date > ?", after)
	}
	if hasPeriod {
		q.and("period = ?", period.Format("2006-01"))
	}
	sql, args := q.page([]string{"invoice_id"}, key, r.limit)
	return collectPage(ctx, r, r.api.cfg.DB, sql, args, func(rows pgx.Rows) (Invoice, []string, error) {
		i, err := scanInvoice(rows)
		return i, []string{i.InvoiceID}, err
	})
}

// InvoiceLine is one line of an invoice.
type InvoiceLine struct {
	LineNo      int        `json:"line_no"`
	LineID      string     `json:"line_id"`
	Description string     `json:"description"`
	Quantity    string     `json:"quantity"`
	UnitPrice   Money      `json:"unit_price"`
	Net         Money      `json:"net"`
	TaxRate     string     `json:"tax_rate"`
	Tax         Money      `json:"tax"`
	ServiceID   *string    `json:"service_id"`
	PlanCode    *string    `json:"plan_code"`
	Period      *string    `json:"period"`
	Proration   *Proration `json:"proration"`
}

// Proration explains a prorated line.
type Proration struct {
	DaysBilled   int   `json:"days_billed"`
	DaysInPeriod int   `json:"days_in_period"`
	FullPrice    Money `json:"full_price"`
}

// InvoiceAllocation is a payment's part that settled the invoice.
type InvoiceAllocation struct {
	PaymentID  string `json:"payment_id"`
	Amount     Money  `json:"amount"`
	ReceivedAt string `json:"received_at"`
}

// CreditNote is a credit note against an invoice.
type CreditNote struct {
	CreditNoteID string `json:"credit_note_id"`
	Net          Money  `json:"net"`
	TaxRate      string `json:"tax_rate"`
	Tax          Money  `json:"tax"`
	Total        Money  `json:"total"`
	Reason       string `json:"reason"`
	IssuedAt     string `json:"issued_at"`
}

// InvoiceDetail is an invoice with its lines, the payments that settled it and its credit
// notes.
type InvoiceDetail struct {
	Invoice
	Lines       []InvoiceLine       `json:"lines"`
	Allocations []InvoiceAllocation `json:"allocations"`
	CreditNotes []CreditNote        `json:"credit_notes"`
}

const (
	snapshotBegin = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY`
	invoiceLines  = `SELECT line_no, line_id::text, description, quantity::text, unit_price::text, net::text,
tax_rate::text, tax::text, service_id::text, plan_code, period, proration_days_billed, proration_days_in_period,
proration_full_price::text FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY line_no`
	invoiceAllocations = `SELECT payment_id::text, amount::text, received_at FROM payment_allocations
WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY received_at, payment_id, seq`
	invoiceCreditNotes = `SELECT credit_note_id::text, net::text, tax_rate::text, tax::text, total::text, reason, issued_at
FROM credit_notes WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY credit_note_id`
)

// getInvoice: GET /v1/invoices/{invoice_id}. The four reads run in one round trip, in one
// repeatable-read snapshot, so the amounts and the allocations agree.
func getInvoice(ctx context.Context, r *request) (any, error) {
	id := r.pathID("invoice_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	b := &pgx.Batch{}
	b.Queue(snapshotBegin)
	b.Queue(invoiceColumns+` WHERE tenant_id = $1 AND invoice_id = $2`, r.tenant, id)
	b.Queue(invoiceLines, r.tenant, id)
	b.Queue(invoiceAllocations, r.tenant, id)
	b.Queue(invoiceCreditNotes, r.tenant, id)
	b.Queue(`COMMIT`)
	br := r.api.cfg.DB.SendBatch(ctx, b)
	defer func() { _ = br.Close() }()
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	inv, err := scanInvoice(br.QueryRow())
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("invoice", id)
	}
	if err != nil {
		return nil, err
	}
	d := InvoiceDetail{Invoice: inv}
	if d.Lines, err = collect(br, func(rows pgx.CollectableRow) (InvoiceLine, error) { return scanLine(rows, inv.Currency) }); err != nil {
		return nil, err
	}
	if d.Allocations, err = collect(br, func(rows pgx.CollectableRow) (InvoiceAllocation, error) {
		var a InvoiceAllocation
		var amount string
		var at time.Time
		err := rows.Scan(&a.PaymentID, &amount, &at)
		a.Amount, a.ReceivedAt = money(amount, inv.Currency), instant(at)
		return a, err
	}); err != nil {
		return nil, err
	}
	if d.CreditNotes, err = collect(br, func(rows pgx.CollectableRow) (CreditNote, error) { return scanCreditNote(rows, inv.Currency) }); err != nil {
		return nil, err
	}
	_, err = br.Exec()
	return d, err
}

func scanLine(rows pgx.CollectableRow, currency string) (InvoiceLine, error) {
	var l InvoiceLine
	var price, net, tax string
	var service, plan, period, full pgtype.Text
	var days, daysIn pgtype.Int4
	err := rows.Scan(&l.LineNo, &l.LineID, &l.Description, &l.Quantity, &price, &net, &l.TaxRate, &tax, &service,
		&plan, &period, &days, &daysIn, &full)
	l.UnitPrice, l.Net, l.Tax = money(price, currency), money(net, currency), money(tax, currency)
	l.ServiceID, l.PlanCode, l.Period = textOrNil(service), textOrNil(plan), textOrNil(period)
	if days.Valid {
		l.Proration = &Proration{DaysBilled: int(days.Int32), DaysInPeriod: int(daysIn.Int32), FullPrice: money(full.String, currency)}
	}
	return l, err
}

func scanCreditNote(rows pgx.CollectableRow, currency string) (CreditNote, error) {
	var c CreditNote
	var net, tax, total string
	var at time.Time
	err := rows.Scan(&c.CreditNoteID, &net, &c.TaxRate, &tax, &total, &c.Reason, &at)
	c.Net, c.Tax, c.Total, c.IssuedAt = money(net, currency), money(tax, currency), money(total, currency), instant(at)
	return c, err
}

// collect reads the next query of a batch into a (never nil) slice.
func collect[T any](br pgx.BatchResults, scan pgx.RowToFunc[T]) ([]T, error) {
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, scan)
	if out == nil {
		out = []T{}
	}
	return out, err
}
