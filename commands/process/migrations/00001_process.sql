-- +goose Up
-- The process managers' own tables. None is a source of truth: the tracker's tables are a
-- private projection of the event store's feed (rebuildable: truncate them and set the
-- checkpoint to 0), read by the overdue scheduler and the dunning sweep instead of the read
-- models, so that a projection's lag or stall never delays an overdue mark or a suspension.

-- Open invoices with money outstanding, and whether they are marked overdue. A row is added by
-- InvoiceIssued (unless credit settled it at once), reduced by payment allocations and credit
-- notes, and removed once nothing is outstanding or the invoice is voided.
CREATE TABLE proc_open_invoices (
    tenant      text    NOT NULL,
    invoice_id  uuid    NOT NULL,
    customer_id uuid    NOT NULL,
    due_date    date    NOT NULL,
    outstanding numeric NOT NULL,
    overdue     boolean NOT NULL DEFAULT false,
    CONSTRAINT proc_open_invoices_pkey PRIMARY KEY (tenant, invoice_id)
);

-- The scheduler looks for invoices due before a day.
CREATE INDEX proc_open_invoices_due ON proc_open_invoices (due_date);

-- Services suspended for non_payment: the customers whose balance the dunning sweep checks for
-- a resumption.
CREATE TABLE proc_nonpayment_suspensions (
    tenant      text NOT NULL,
    service_id  uuid NOT NULL,
    customer_id uuid NOT NULL,
    CONSTRAINT proc_nonpayment_suspensions_pkey PRIMARY KEY (tenant, service_id)
);

-- Tenants with at least one customer: the scheduled billing runs bill each of them.
CREATE TABLE proc_tenants (
    tenant text NOT NULL,
    CONSTRAINT proc_tenants_pkey PRIMARY KEY (tenant)
);

-- The feed position the tables above reflect (one row), written in the same transaction.
CREATE TABLE proc_tracker_checkpoint (
    singleton boolean NOT NULL DEFAULT true,
    position  bigint  NOT NULL,
    CONSTRAINT proc_tracker_checkpoint_pkey PRIMARY KEY (singleton),
    CONSTRAINT proc_tracker_checkpoint_singleton_check CHECK (singleton)
);

INSERT INTO proc_tracker_checkpoint (singleton, position) VALUES (true, 0);

-- +goose Down
DROP TABLE proc_tracker_checkpoint;
DROP TABLE proc_tenants;
DROP TABLE proc_nonpayment_suspensions;
DROP TABLE proc_open_invoices;
