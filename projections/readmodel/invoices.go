package readmodel

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/projections"
)

// Invoices projects the invoices of every account with their lines, the payments with their
// allocations to invoices, the credit notes with the invoices those against the account
// settled, and the invoices customer credit settled. An invoice's status is draft, issued,
// partially_paid, paid or void, as in the domain; overdue is true while an invoice marked
// overdue is still open. outstanding is what is still owed on it.
type Invoices struct{}

var _ projections.Projection = Invoices{}

// Name returns "invoices".
func (Invoices) Name() string { return NameInvoices }

// Version returns 3 (2: lines with the days they bill, credit note lines, opening balances;
// 3: the invoices a credit note against the account settled, its unapplied rest, and the
// invoices customer credit settled).
func (Invoices) Version() int { return 3 }

// Tables returns the tables the query API reads.
func (Invoices) Tables() []string {
	return []string{"invoices", "invoice_lines", "payments", "payment_allocations", "credit_notes", "credit_note_lines",
		"credit_note_allocations", "credit_applications"}
}

const invoicesSchema = `
CREATE TABLE invoices (
    tenant_id         text        NOT NULL,
    invoice_id        uuid        NOT NULL,
    customer_id       uuid        NOT NULL,
    number            text,
    status            text        NOT NULL CHECK (status IN ('draft', 'issued', 'partially_paid', 'paid', 'void')),
    overdue           boolean     NOT NULL,
    currency          text        NOT NULL,
    period            text,
    issue_date        date,
    due_date          date,
    net_total         numeric     NOT NULL,
    tax_total         numeric     NOT NULL,
    total             numeric     NOT NULL,
    credit_applied    numeric     NOT NULL,
    amount_paid       numeric     NOT NULL,
    amount_credited   numeric     NOT NULL,
    outstanding       numeric     NOT NULL,
    line_count        integer     NOT NULL,
    created_at        timestamptz NOT NULL,
    issued_at         timestamptz,
    marked_overdue_at timestamptz,
    voided_at         timestamptz,
    void_reason       text,
    position          bigint      NOT NULL,
    PRIMARY KEY (tenant_id, invoice_id)
);

CREATE TABLE invoice_lines (
    tenant_id                 text    NOT NULL,
    invoice_id                uuid    NOT NULL,
    line_no                   integer NOT NULL,
    line_id                   uuid    NOT NULL,
    description               text    NOT NULL,
    quantity                  numeric NOT NULL,
    unit_price                numeric NOT NULL,
    net                       numeric NOT NULL,
    tax_rate                  numeric NOT NULL,
    tax                       numeric NOT NULL,
    currency                  text    NOT NULL,
    service_id                uuid,
    plan_code                 text,
    period                    text,
    proration_days_billed     integer,
    proration_days_in_period  integer,
    proration_full_price      numeric,
    service_from              date,
    service_through           date,
    PRIMARY KEY (tenant_id, invoice_id, line_no)
);

CREATE TABLE payments (
    tenant_id          text        NOT NULL,
    payment_id         uuid        NOT NULL,
    customer_id        uuid        NOT NULL,
    amount             numeric     NOT NULL,
    currency           text        NOT NULL,
    method             text        NOT NULL,
    external_reference text        NOT NULL,
    received_at        timestamptz NOT NULL,
    recorded_at        timestamptz NOT NULL,
    allocated          numeric     NOT NULL,
    unapplied          numeric     NOT NULL,
    refunded           numeric     NOT NULL,
    status             text        NOT NULL CHECK (status IN ('recorded', 'partially_refunded', 'refunded')),
    position           bigint      NOT NULL,
    PRIMARY KEY (tenant_id, payment_id)
);

CREATE TABLE payment_allocations (
    tenant_id   text        NOT NULL,
    payment_id  uuid        NOT NULL,
    seq         integer     NOT NULL,
    invoice_id  uuid        NOT NULL,
    customer_id uuid        NOT NULL,
    amount      numeric     NOT NULL,
    currency    text        NOT NULL,
    received_at timestamptz NOT NULL,
    position    bigint      NOT NULL,
    PRIMARY KEY (tenant_id, payment_id, seq)
);

CREATE TABLE credit_notes (
    tenant_id      text        NOT NULL,
    credit_note_id uuid        NOT NULL,
    customer_id    uuid        NOT NULL,
    invoice_id     uuid,
    net            numeric     NOT NULL,
    tax_rate       numeric     NOT NULL,
    tax            numeric     NOT NULL,
    total          numeric     NOT NULL,
    currency       text        NOT NULL,
    reason         text        NOT NULL,
    issued_at      timestamptz NOT NULL,
    issued_on      date        NOT NULL,
    line_count     integer     NOT NULL,
    position       bigint      NOT NULL,
    -- what became customer credit: total less the allocations (0 against an invoice); last, so
    -- that a view of version 2's credit_notes can be replaced in place (CREATE OR REPLACE VIEW)
    unapplied      numeric     NOT NULL,
    PRIMARY KEY (tenant_id, credit_note_id)
);

-- The invoices a credit note against the account settled (CreditNoteIssued.Allocations).
CREATE TABLE credit_note_allocations (
    tenant_id      text        NOT NULL,
    credit_note_id uuid        NOT NULL,
    seq            integer     NOT NULL,
    invoice_id     uuid        NOT NULL,
    customer_id    uuid        NOT NULL,
    amount         numeric     NOT NULL,
    currency       text        NOT NULL,
    issued_at      timestamptz NOT NULL,
    position       bigint      NOT NULL,
    PRIMARY KEY (tenant_id, credit_note_id, seq)
);

-- The invoices customer credit settled (CustomerCreditApplied.Allocations): the event has no
-- id of its own, so its position names it.
CREATE TABLE credit_applications (
    tenant_id   text        NOT NULL,
    position    bigint      NOT NULL,
    seq         integer     NOT NULL,
    invoice_id  uuid        NOT NULL,
    customer_id uuid        NOT NULL,
    amount      numeric     NOT NULL,
    currency    text        NOT NULL,
    applied_on  date        NOT NULL,
    applied_at  timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, position, seq)
);

-- A billing adjustment's credit note carries lines, as an invoice does.
CREATE TABLE credit_note_lines (LIKE invoice_lines);
ALTER TABLE credit_note_lines RENAME COLUMN invoice_id TO credit_note_id;
ALTER TABLE credit_note_lines ADD PRIMARY KEY (tenant_id, credit_note_id, line_no);
`

// Setup creates the invoice, line, payment, allocation and credit note tables.
func (Invoices) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, invoicesSchema)
	return err
}

// invoicesIndexes are the secondary indexes the query API reads by (Apply uses primary keys only).
var invoicesIndexes = []string{
	`CREATE INDEX IF NOT EXISTS invoices_customer_idx ON invoices (tenant_id, customer_id, invoice_id)`,
	`CREATE INDEX IF NOT EXISTS invoices_status_idx ON invoices (tenant_id, status, invoice_id)`,
	`CREATE INDEX IF NOT EXISTS invoices_due_idx ON invoices (tenant_id, due_date, invoice_id)`,
	`CREATE INDEX IF NOT EXISTS payments_customer_idx ON payments (tenant_id, customer_id, payment_id)`,
	`CREATE INDEX IF NOT EXISTS payment_allocations_invoice_idx ON payment_allocations (tenant_id, invoice_id)`,
	`CREATE INDEX IF NOT EXISTS credit_notes_customer_idx ON credit_notes (tenant_id, customer_id, credit_note_id)`,
	`CREATE INDEX IF NOT EXISTS credit_notes_invoice_idx ON credit_notes (tenant_id, invoice_id) WHERE invoice_id IS NOT NULL`,
	`CREATE INDEX IF NOT EXISTS credit_note_allocations_invoice_idx ON credit_note_allocations (tenant_id, invoice_id)`,
	`CREATE INDEX IF NOT EXISTS credit_applications_invoice_idx ON credit_applications (tenant_id, invoice_id)`,
}

// Apply folds the account stream's invoice, payment and credit note events: it reads the
// invoices and payments the batch changes but does not create (one query each), folds the
// batch in memory, and writes each table once.
func (Invoices) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	return applyFold(ctx, tx, newInvoiceBatch(), evs)
}
