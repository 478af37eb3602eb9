package readapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// invoiceFilters are the query parameters of the invoice lists (the customer's own list has
// the customer in its path, so it takes all but the first).
var invoiceFilters = []string{"customer_id", "status", "overdue", "due_before", "due_after", "period", "number"}

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

const (
	invoiceFields = `invoice_id::text, customer_id::text, number, status, overdue, currency, period,
issue_date::text, due_date::text, net_total::text, tax_total::text, total::text, credit_applied::text,
amount_paid::text, amount_credited::text, outstanding::text, line_count, created_at, issued_at, marked_overdue_at,
voided_at, void_reason`
	invoiceColumns = `SELECT ` + invoiceFields + ` FROM invoices`
)

// scanInvoice reads invoiceFields, then extra columns into extra.
func scanInvoice(row pgx.Row, extra ...any) (Invoice, error) {
	var i Invoice
	var number, period, issue, due, reason pgtype.Text
	var amounts [7]string
	var created time.Time
	var issued, flagged, voided pgtype.Timestamptz
	err := row.Scan(append([]any{&i.InvoiceID, &i.CustomerID, &number, &i.Status, &i.Overdue, &i.Currency, &period, &issue, &due,
		&amounts[0], &amounts[1], &amounts[2], &amounts[3], &amounts[4], &amounts[5], &amounts[6], &i.LineCount,
		&created, &issued, &flagged, &voided, &reason}, extra...)...)
	c := i.Currency
	i.NetTotal, i.TaxTotal, i.Total = money(amounts[0], c), money(amounts[1], c), money(amounts[2], c)
	i.CreditApplied, i.AmountPaid, i.AmountCredited = money(amounts[3], c), money(amounts[4], c), money(amounts[5], c)
	i.Outstanding = money(amounts[6], c)
	i.Number, i.Period, i.IssueDate, i.DueDate, i.VoidReason = textOrNil(number), textOrNil(period), textOrNil(issue), textOrNil(due), textOrNil(reason)
	i.CreatedAt, i.IssuedAt, i.MarkedOverdueAt, i.VoidedAt = instant(created), instantOrNil(issued), instantOrNil(flagged), instantOrNil(voided)
	return i, err
}

// listInvoices: GET /v1/invoices?customer_id=&status=&overdue=&due_before=&due_after=&period=&number=
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
	number := r.text("number", maxNumberLen)
	key := r.uuidKey()
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	if r.vars("customer_id") != "" {
		if err := r.requireCustomer(ctx, customer); err != nil {
			return nil, err
		}
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
	if number != "" {
		q.and("number = ?", number)
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
	// From and Through are the days of Period a service's line bills (null on other lines).
	From    *string `json:"from"`
	Through *string `json:"through"`
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

// CreditNote is a credit note.
type CreditNote struct {
	CreditNoteID string `json:"credit_note_id"`
	Net          Money  `json:"net"`
	TaxRate      string `json:"tax_rate"`
	Tax          Money  `json:"tax"`
	Total        Money  `json:"total"`
	Reason       string `json:"reason"`
	IssuedAt     string `json:"issued_at"`
}

// InvoiceCreditNote is a credit note that settled the invoice: one against it (InvoiceID is
// the invoice; Amount its Total) or one against the account (InvoiceID nil; Amount the part
// of its Total that went to this invoice).
type InvoiceCreditNote struct {
	CreditNote
	InvoiceID *string `json:"invoice_id"`
	Amount    Money   `json:"amount"`
}

// CreditApplication is customer credit that settled the invoice (a CustomerCreditApplied:
// an opening balance's credit, or the repair of an account an earlier version wrote). Credit
// applied when the invoice was issued is not listed: it is in credit_applied.
type CreditApplication struct {
	Amount    Money  `json:"amount"`
	AppliedOn string `json:"applied_on"`
	AppliedAt string `json:"applied_at"`
}

// InvoiceDetail is an invoice with its lines, the payments that settled it, the credit notes
// that settled it and the customer credit applied to it after it was issued.
type InvoiceDetail struct {
	Invoice
	Lines              []InvoiceLine       `json:"lines"`
	Allocations        []InvoiceAllocation `json:"allocations"`
	CreditNotes        []InvoiceCreditNote `json:"credit_notes"`
	CreditApplications []CreditApplication `json:"credit_applications"`
}

// invoiceDetailSQL reads an invoice with its lines, allocations and credit notes in one
// statement: one round trip and one snapshot, so the amounts and the allocations agree.
const invoiceDetailSQL = `SELECT ` + invoiceFields + `,
(SELECT coalesce(json_agg(json_build_object('line_no', line_no, 'line_id', line_id, 'description', description,
  'quantity', quantity::text, 'unit_price', unit_price::text, 'net', net::text, 'tax_rate', tax_rate::text, 'tax', tax::text,
  'service_id', service_id, 'plan_code', plan_code, 'period', period, 'days_billed', proration_days_billed,
  'days_in_period', proration_days_in_period, 'full_price', proration_full_price::text,
  'from', service_from::text, 'through', service_through::text) ORDER BY line_no), '[]')
 FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.invoice_id),
(SELECT coalesce(json_agg(json_build_object('payment_id', payment_id, 'amount', amount::text, 'received_at', received_at)
  ORDER BY received_at, payment_id, seq), '[]')
 FROM payment_allocations a WHERE a.tenant_id = i.tenant_id AND a.invoice_id = i.invoice_id),
(SELECT coalesce(json_agg(json_build_object('credit_note_id', c.credit_note_id, 'net', c.net::text, 'tax_rate', c.tax_rate::text,
  'tax', c.tax::text, 'total', c.total::text, 'reason', c.reason, 'issued_at', c.issued_at, 'invoice_id', c.invoice_id,
  'amount', s.amount::text) ORDER BY c.issued_at, c.credit_note_id), '[]')
 FROM (SELECT credit_note_id, total AS amount FROM credit_notes
        WHERE tenant_id = i.tenant_id AND invoice_id = i.invoice_id
       UNION ALL
       SELECT credit_note_id, sum(amount) FROM credit_note_allocations
        WHERE tenant_id = i.tenant_id AND invoice_id = i.invoice_id GROUP BY credit_note_id) s
 JOIN credit_notes c ON c.tenant_id = i.tenant_id AND c.credit_note_id = s.credit_note_id),
(SELECT coalesce(json_agg(json_build_object('amount', amount::text, 'applied_on', applied_on::text, 'applied_at', applied_at)
  ORDER BY position, seq), '[]')
 FROM credit_applications a WHERE a.tenant_id = i.tenant_id AND a.invoice_id = i.invoice_id)
FROM invoices i WHERE i.tenant_id = $1 AND i.invoice_id = $2`

// getInvoice: GET /v1/invoices/{invoice_id}
func getInvoice(ctx context.Context, r *request) (any, error) {
	id := r.pathID("invoice_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var lines, allocations, credits, applications []byte
	inv, err := scanInvoice(r.api.cfg.DB.QueryRow(ctx, invoiceDetailSQL, r.tenant, id), &lines, &allocations, &credits, &applications)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("invoice", id)
	}
	if err != nil {
		return nil, olderBuild(r, err)
	}
	d := InvoiceDetail{Invoice: inv}
	if d.Lines, err = decodeLines(lines, inv.Currency); err != nil {
		return nil, err
	}
	if d.Allocations, err = decodeAllocations(allocations, inv.Currency); err != nil {
		return nil, err
	}
	if d.CreditNotes, err = decodeCreditNotes(credits, inv.Currency); err != nil {
		return nil, err
	}
	d.CreditApplications, err = decodeCreditApplications(applications, inv.Currency)
	return d, err
}

// lineJSON is a line as invoiceDetailSQL aggregates it.
type lineJSON struct {
	LineNo       int     `json:"line_no"`
	LineID       string  `json:"line_id"`
	Description  string  `json:"description"`
	Quantity     string  `json:"quantity"`
	UnitPrice    string  `json:"unit_price"`
	Net          string  `json:"net"`
	TaxRate      string  `json:"tax_rate"`
	Tax          string  `json:"tax"`
	ServiceID    *string `json:"service_id"`
	PlanCode     *string `json:"plan_code"`
	Period       *string `json:"period"`
	DaysBilled   *int    `json:"days_billed"`
	DaysInPeriod *int    `json:"days_in_period"`
	FullPrice    *string `json:"full_price"`
	From         *string `json:"from"`
	Through      *string `json:"through"`
}

// decodeAgg decodes a json_agg column into rows of R and maps each to a T.
func decodeAgg[R, T any](raw []byte, what string, f func(R) T) ([]T, error) {
	var rows []R
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	out := make([]T, len(rows))
	for i, r := range rows {
		out[i] = f(r)
	}
	return out, nil
}

func decodeLines(raw []byte, currency string) ([]InvoiceLine, error) {
	return decodeAgg(raw, "invoice lines", func(l lineJSON) InvoiceLine {
		out := InvoiceLine{LineNo: l.LineNo, LineID: l.LineID, Description: l.Description, Quantity: l.Quantity,
			UnitPrice: money(l.UnitPrice, currency), Net: money(l.Net, currency), TaxRate: l.TaxRate, Tax: money(l.Tax, currency),
			ServiceID: l.ServiceID, PlanCode: l.PlanCode, Period: l.Period, From: l.From, Through: l.Through}
		if l.DaysBilled != nil && l.DaysInPeriod != nil && l.FullPrice != nil {
			out.Proration = &Proration{DaysBilled: *l.DaysBilled, DaysInPeriod: *l.DaysInPeriod, FullPrice: money(*l.FullPrice, currency)}
		}
		return out
	})
}

type allocationJSON struct {
	PaymentID  string    `json:"payment_id"`
	Amount     string    `json:"amount"`
	ReceivedAt time.Time `json:"received_at"`
}

func decodeAllocations(raw []byte, currency string) ([]InvoiceAllocation, error) {
	return decodeAgg(raw, "invoice allocations", func(a allocationJSON) InvoiceAllocation {
		return InvoiceAllocation{PaymentID: a.PaymentID, Amount: money(a.Amount, currency), ReceivedAt: instant(a.ReceivedAt)}
	})
}

type creditNoteJSON struct {
	CreditNoteID string    `json:"credit_note_id"`
	Net          string    `json:"net"`
	TaxRate      string    `json:"tax_rate"`
	Tax          string    `json:"tax"`
	Total        string    `json:"total"`
	Reason       string    `json:"reason"`
	IssuedAt     time.Time `json:"issued_at"`
	InvoiceID    *string   `json:"invoice_id"`
	Amount       string    `json:"amount"`
}

func decodeCreditNotes(raw []byte, currency string) ([]InvoiceCreditNote, error) {
	return decodeAgg(raw, "invoice credit notes", func(c creditNoteJSON) InvoiceCreditNote {
		return InvoiceCreditNote{CreditNote: CreditNote{CreditNoteID: c.CreditNoteID, Net: money(c.Net, currency), TaxRate: c.TaxRate,
			Tax: money(c.Tax, currency), Total: money(c.Total, currency), Reason: c.Reason, IssuedAt: instant(c.IssuedAt)},
			InvoiceID: c.InvoiceID, Amount: money(c.Amount, currency)}
	})
}

type creditApplicationJSON struct {
	Amount    string    `json:"amount"`
	AppliedOn string    `json:"applied_on"`
	AppliedAt time.Time `json:"applied_at"`
}

func decodeCreditApplications(raw []byte, currency string) ([]CreditApplication, error) {
	return decodeAgg(raw, "invoice credit applications", func(a creditApplicationJSON) CreditApplication {
		return CreditApplication{Amount: money(a.Amount, currency), AppliedOn: a.AppliedOn, AppliedAt: instant(a.AppliedAt)}
	})
}

// CreditNoteAllocation is the part of a credit note against the account that settled one
// invoice.
type CreditNoteAllocation struct {
	InvoiceID string `json:"invoice_id"`
	Amount    Money  `json:"amount"`
}

type noteAllocationJSON struct {
	InvoiceID string `json:"invoice_id"`
	Amount    string `json:"amount"`
}

// CreditNoteDetail is a credit note with its lines (a billing adjustment's; none otherwise),
// the invoices it settled if it is against the account (Allocations, oldest first; none
// against an invoice, which it settles by its Total, and none for credit notes recorded
// before allocations existed) and what of it became customer credit (Unapplied: Total less
// the allocations; zero against an invoice).
type CreditNoteDetail struct {
	CreditNote
	CustomerID  string                 `json:"customer_id"`
	InvoiceID   *string                `json:"invoice_id"`
	Currency    string                 `json:"currency"`
	IssuedOn    string                 `json:"issued_on"`
	Lines       []InvoiceLine          `json:"lines"`
	Allocations []CreditNoteAllocation `json:"allocations"`
	Unapplied   Money                  `json:"unapplied"`
}

const creditNoteDetailSQL = `SELECT c.credit_note_id::text, c.customer_id::text, c.invoice_id::text, c.currency, c.net::text,
c.tax_rate::text, c.tax::text, c.total::text, c.reason, c.issued_at, c.issued_on::text, c.unapplied::text,
(SELECT coalesce(json_agg(json_build_object('line_no', line_no, 'line_id', line_id, 'description', description,
  'quantity', quantity::text, 'unit_price', unit_price::text, 'net', net::text, 'tax_rate', tax_rate::text, 'tax', tax::text,
  'service_id', service_id, 'plan_code', plan_code, 'period', period, 'days_billed', proration_days_billed,
  'days_in_period', proration_days_in_period, 'full_price', proration_full_price::text,
  'from', service_from::text, 'through', service_through::text) ORDER BY line_no), '[]')
 FROM credit_note_lines l WHERE l.tenant_id = c.tenant_id AND l.credit_note_id = c.credit_note_id),
(SELECT coalesce(json_agg(json_build_object('invoice_id', invoice_id, 'amount', amount::text) ORDER BY seq), '[]')
 FROM credit_note_allocations a WHERE a.tenant_id = c.tenant_id AND a.credit_note_id = c.credit_note_id)
FROM credit_notes c WHERE c.tenant_id = $1 AND c.credit_note_id = $2`

// getCreditNote: GET /v1/credit-notes/{credit_note_id}
func getCreditNote(ctx context.Context, r *request) (any, error) {
	id := r.pathID("credit_note_id")
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var d CreditNoteDetail
	var invoice pgtype.Text
	var net, tax, total, unapplied string
	var issued time.Time
	var lines, allocations []byte
	err := r.api.cfg.DB.QueryRow(ctx, creditNoteDetailSQL, r.tenant, id).Scan(&d.CreditNoteID, &d.CustomerID, &invoice, &d.Currency,
		&net, &d.TaxRate, &tax, &total, &d.Reason, &issued, &d.IssuedOn, &unapplied, &lines, &allocations)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("credit note", id)
	}
	if err != nil {
		return nil, olderBuild(r, err)
	}
	d.InvoiceID, d.IssuedAt = textOrNil(invoice), instant(issued)
	d.Net, d.Tax, d.Total = money(net, d.Currency), money(tax, d.Currency), money(total, d.Currency)
	d.Unapplied = money(unapplied, d.Currency)
	if d.Lines, err = decodeLines(lines, d.Currency); err != nil {
		return nil, err
	}
	d.Allocations, err = decodeAgg(allocations, "credit note allocations", func(a noteAllocationJSON) CreditNoteAllocation {
		return CreditNoteAllocation{InvoiceID: a.InvoiceID, Amount: money(a.Amount, d.Currency)}
	})
	return d, err
}

// olderBuild answers 503 (retry later) when err says the views lack a table or column this
// code reads: the live build is of an earlier version of the read model (version 2 had no
// credit_note_allocations, credit_applications nor credit_notes.unapplied), which serves until
// the runtime's rebuild for this version is swapped in. Any other error is returned as is.
func olderBuild(r *request, err error) error {
	var pg *pgconn.PgError
	if errors.As(err, &pg) && (pg.Code == "42P01" || pg.Code == "42703") { // undefined_table, undefined_column
		return unavailable(r.http, r.rt.projection, r.position, fmt.Errorf("the live build predates this version: %w", err))
	}
	return err
}
