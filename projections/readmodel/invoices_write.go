package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/shopspring/decimal"
)

var (
	invoicesTable = newTable("invoices", []string{"tenant_id", "invoice_id"},
		column{"tenant_id", "text"}, column{"invoice_id", "uuid"}, column{"customer_id", "uuid"}, column{"number", "text"},
		column{"status", "text"}, column{"overdue", "boolean"}, column{"currency", "text"}, column{"period", "text"},
		column{"issue_date", "date"}, column{"due_date", "date"}, column{"net_total", "numeric"},
		column{"tax_total", "numeric"}, column{"total", "numeric"}, column{"credit_applied", "numeric"},
		column{"amount_paid", "numeric"}, column{"amount_credited", "numeric"}, column{"outstanding", "numeric"},
		column{"line_count", "integer"}, column{"created_at", "timestamptz"}, column{"issued_at", "timestamptz"},
		column{"marked_overdue_at", "timestamptz"}, column{"voided_at", "timestamptz"}, column{"void_reason", "text"},
		column{"position", "bigint"})
	invoiceLinesTable = newTable("invoice_lines", []string{"tenant_id", "invoice_id", "line_no"},
		column{"tenant_id", "text"}, column{"invoice_id", "uuid"}, column{"line_no", "integer"}, column{"line_id", "uuid"},
		column{"description", "text"}, column{"quantity", "numeric"}, column{"unit_price", "numeric"},
		column{"net", "numeric"}, column{"tax_rate", "numeric"}, column{"tax", "numeric"}, column{"currency", "text"},
		column{"service_id", "uuid"}, column{"plan_code", "text"}, column{"period", "text"},
		column{"proration_days_billed", "integer"}, column{"proration_days_in_period", "integer"},
		column{"proration_full_price", "numeric"}, column{"service_from", "date"}, column{"service_through", "date"})
	creditNoteLinesTable = newTable("credit_note_lines", []string{"tenant_id", "credit_note_id", "line_no"},
		column{"tenant_id", "text"}, column{"credit_note_id", "uuid"}, column{"line_no", "integer"}, column{"line_id", "uuid"},
		column{"description", "text"}, column{"quantity", "numeric"}, column{"unit_price", "numeric"},
		column{"net", "numeric"}, column{"tax_rate", "numeric"}, column{"tax", "numeric"}, column{"currency", "text"},
		column{"service_id", "uuid"}, column{"plan_code", "text"}, column{"period", "text"},
		column{"proration_days_billed", "integer"}, column{"proration_days_in_period", "integer"},
		column{"proration_full_price", "numeric"}, column{"service_from", "date"}, column{"service_through", "date"})
	paymentsTable = newTable("payments", []string{"tenant_id", "payment_id"},
		column{"tenant_id", "text"}, column{"payment_id", "uuid"}, column{"customer_id", "uuid"}, column{"amount", "numeric"},
		column{"currency", "text"}, column{"method", "text"}, column{"external_reference", "text"},
		column{"received_at", "timestamptz"}, column{"recorded_at", "timestamptz"}, column{"allocated", "numeric"},
		column{"unapplied", "numeric"}, column{"refunded", "numeric"}, column{"status", "text"}, column{"position", "bigint"})
	allocationsTable = newTable("payment_allocations", []string{"tenant_id", "payment_id", "seq"},
		column{"tenant_id", "text"}, column{"payment_id", "uuid"}, column{"seq", "integer"}, column{"invoice_id", "uuid"},
		column{"customer_id", "uuid"}, column{"amount", "numeric"}, column{"currency", "text"},
		column{"received_at", "timestamptz"}, column{"position", "bigint"})
	creditNotesTable = newTable("credit_notes", []string{"tenant_id", "credit_note_id"},
		column{"tenant_id", "text"}, column{"credit_note_id", "uuid"}, column{"customer_id", "uuid"},
		column{"invoice_id", "uuid"}, column{"net", "numeric"}, column{"tax_rate", "numeric"}, column{"tax", "numeric"},
		column{"total", "numeric"}, column{"currency", "text"}, column{"reason", "text"}, column{"issued_at", "timestamptz"},
		column{"issued_on", "date"}, column{"line_count", "integer"}, column{"position", "bigint"},
		column{"unapplied", "numeric"})
	noteAllocationsTable = newTable("credit_note_allocations", []string{"tenant_id", "credit_note_id", "seq"},
		column{"tenant_id", "text"}, column{"credit_note_id", "uuid"}, column{"seq", "integer"}, column{"invoice_id", "uuid"},
		column{"customer_id", "uuid"}, column{"amount", "numeric"}, column{"currency", "text"},
		column{"issued_at", "timestamptz"}, column{"position", "bigint"})
	creditApplicationsTable = newTable("credit_applications", []string{"tenant_id", "position", "seq"},
		column{"tenant_id", "text"}, column{"position", "bigint"}, column{"seq", "integer"}, column{"invoice_id", "uuid"},
		column{"customer_id", "uuid"}, column{"amount", "numeric"}, column{"currency", "text"},
		column{"applied_on", "date"}, column{"applied_at", "timestamptz"})
)

func (r *invoiceRow) write(c *copyRows) {
	c.row(24)
	c.text(r.tenant)
	c.uuid(r.id)
	c.uuid(r.customer)
	c.textOrNull(r.number)
	c.text(r.status)
	c.bool(r.flagged && r.open())
	c.text(r.currency)
	c.textOrNull(r.period)
	c.dateOrNull(r.issueDate)
	c.dateOrNull(r.dueDate)
	for _, d := range []decimal.Decimal{r.net, r.tax, r.total, r.creditApplied, r.paid, r.credited, r.outstanding} {
		c.numeric(d)
	}
	c.int4(r.lineCount)
	c.timestamptz(r.createdAt)
	c.timestamptzOrNull(r.issuedAt)
	c.timestamptzOrNull(r.flaggedAt)
	c.timestamptzOrNull(r.voidedAt)
	c.textOrNull(r.voidReason)
	c.int8(r.position)
}

func (p *paymentRow) write(c *copyRows) {
	c.row(14)
	c.text(p.tenant)
	c.uuid(p.id)
	c.uuid(p.customer)
	c.numeric(p.amount)
	c.text(p.currency)
	c.text(p.method)
	c.text(p.reference)
	c.timestamptz(p.receivedAt)
	c.timestamptz(p.recordedAt)
	c.numeric(p.allocated)
	c.numeric(p.unapplied)
	c.numeric(p.refunded)
	c.text(p.status())
	c.int8(p.position)
}

var loadInvoices = `SELECT i.tenant_id, i.invoice_id, i.customer_id, i.number, i.status, i.marked_overdue_at, i.currency,
i.period, i.issue_date, i.due_date, i.net_total, i.tax_total, i.total, i.credit_applied, i.amount_paid,
i.amount_credited, i.outstanding, i.line_count, i.created_at, i.issued_at, i.voided_at, i.void_reason, i.position
FROM ` + byKeys("invoices", "i", "tenant_id text", "invoice_id uuid")

func scanInvoice(rows pgx.Rows) (*invoiceRow, error) {
	r := &invoiceRow{}
	var number, period, reason pgtype.Text
	var flaggedAt, issuedAt, voidedAt pgtype.Timestamptz
	var issue, due pgtype.Date
	var n [7]pgtype.Numeric
	err := rows.Scan(&r.tenant, &r.id, &r.customer, &number, &r.status, &flaggedAt, &r.currency, &period, &issue, &due,
		&n[0], &n[1], &n[2], &n[3], &n[4], &n[5], &n[6], &r.lineCount, &r.createdAt, &issuedAt, &voidedAt, &reason, &r.position)
	if err != nil {
		return nil, err
	}
	places := minorUnits(r.currency)
	r.net, r.tax, r.total = decimalOf(n[0], places), decimalOf(n[1], places), decimalOf(n[2], places)
	r.creditApplied, r.paid, r.credited = decimalOf(n[3], places), decimalOf(n[4], places), decimalOf(n[5], places)
	r.outstanding = decimalOf(n[6], places)
	r.number, r.period, r.voidReason = number.String, period.String, reason.String
	r.flagged, r.flaggedAt, r.issuedAt, r.voidedAt = flaggedAt.Valid, timeFrom(flaggedAt), timeFrom(issuedAt), timeFrom(voidedAt)
	r.issueDate, r.dueDate, r.createdAt = dateFrom(issue), dateFrom(due), r.createdAt.UTC()
	return r, nil
}

var loadPayments = `SELECT p.tenant_id, p.payment_id, p.customer_id, p.amount, p.currency, p.method, p.external_reference,
p.received_at, p.recorded_at, p.allocated, p.unapplied, p.refunded, p.position
FROM ` + byKeys("payments", "p", "tenant_id text", "payment_id uuid")

func scanPayment(rows pgx.Rows) (*paymentRow, error) {
	p := &paymentRow{}
	var n [4]pgtype.Numeric
	err := rows.Scan(&p.tenant, &p.id, &p.customer, &n[0], &p.currency, &p.method, &p.reference, &p.receivedAt,
		&p.recordedAt, &n[1], &n[2], &n[3], &p.position)
	if err != nil {
		return nil, err
	}
	places := minorUnits(p.currency)
	p.amount, p.allocated, p.unapplied, p.refunded = decimalOf(n[0], places), decimalOf(n[1], places), decimalOf(n[2], places), decimalOf(n[3], places)
	p.receivedAt, p.recordedAt = p.receivedAt.UTC(), p.recordedAt.UTC()
	return p, nil
}

// load reads the invoices and payments the batch changes but does not create.
func (b *invoiceBatch) load(ctx context.Context, tx pgx.Tx) error {
	err := loadByKeys(ctx, tx, loadInvoices, b.loadInv.list, func(rows pgx.Rows) error {
		r, err := scanInvoice(rows)
		if err == nil {
			b.invoices[r.key] = r
		}
		return err
	})
	if err != nil {
		return err
	}
	return loadByKeys(ctx, tx, loadPayments, b.loadPay.list, func(rows pgx.Rows) error {
		p, err := scanPayment(rows)
		if err == nil {
			b.payments[p.key] = p
		}
		return err
	})
}

// writeRows inserts the new invoices and payments it holds with COPY, updates the others,
// and lets them all go.
func (b *invoiceBatch) writeRows(ctx context.Context, tx pgx.Tx) error {
	var newInv, changedInv, newPay, changedPay copyRows
	for _, r := range b.invoices {
		if r.isNew {
			r.write(&newInv)
		} else {
			r.write(&changedInv)
		}
	}
	for _, p := range b.payments {
		if p.isNew {
			p.write(&newPay)
		} else {
			p.write(&changedPay)
		}
	}
	clear(b.invoices)
	clear(b.payments)
	for _, w := range []func() error{
		func() error { return invoicesTable.insert(ctx, tx, &newInv) },
		func() error { return invoicesTable.update(ctx, tx, &changedInv) },
		func() error { return paymentsTable.insert(ctx, tx, &newPay) },
		func() error { return paymentsTable.update(ctx, tx, &changedPay) },
	} {
		if err := w(); err != nil {
			return err
		}
	}
	return nil
}

// writeAdded COPYs the lines, allocations, credit notes and credit applications folded since
// it last ran (rows that never change once written).
func (b *invoiceBatch) writeAdded(ctx context.Context, tx pgx.Tx) error {
	defer func() {
		b.lines.reset()
		b.allocations.reset()
		b.creditNotes.reset()
		b.noteLines.reset()
		b.noteAllocations.reset()
		b.creditApplications.reset()
	}()
	for _, w := range []struct {
		t    *table
		rows *copyRows
	}{
		{invoiceLinesTable, &b.lines}, {creditNoteLinesTable, &b.noteLines}, {allocationsTable, &b.allocations},
		{creditNotesTable, &b.creditNotes}, {noteAllocationsTable, &b.noteAllocations},
		{creditApplicationsTable, &b.creditApplications},
	} {
		if err := w.t.insert(ctx, tx, w.rows); err != nil {
			return err
		}
	}
	return nil
}
