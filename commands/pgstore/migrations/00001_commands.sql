-- +goose Up
-- The command side's own tables: idempotency keys, invoice number counters and the billing
-- index. None of them is a source of truth for business facts (the event store is); each can
-- be dropped and rebuilt (keys expire anyway, counters from the InvoiceIssued events, the index
-- from the feed).

-- One row per (tenant, Idempotency-Key). A row is claimed (status 0, locked_until in the
-- future) before the command runs and completed with the response afterwards. A claim whose
-- lease ran out (its process died, or the command failed without a definite answer) may be
-- taken over by a retry, which re-runs the command with the same command_id.
CREATE TABLE cmd_idempotency (
    tenant           text        NOT NULL,
    key              text        NOT NULL,
    -- SHA-256 of method, path and body: the same key with another request is refused.
    request_hash     bytea       NOT NULL,
    command_id       uuid        NOT NULL,
    -- 0 while the command runs; the HTTP status once completed.
    status           integer     NOT NULL DEFAULT 0,
    response_headers jsonb,
    response_body    bytea,
    position         bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    locked_until     timestamptz,
    completed_at     timestamptz,
    CONSTRAINT cmd_idempotency_pkey PRIMARY KEY (tenant, key),
    CONSTRAINT cmd_idempotency_hash_check CHECK (octet_length(request_hash) = 32)
);

-- The purge deletes the oldest rows first.
CREATE INDEX cmd_idempotency_created_at ON cmd_idempotency (created_at);

-- The last invoice number handed out, per tenant and year of issue.
CREATE TABLE cmd_invoice_numbers (
    tenant text    NOT NULL,
    year   integer NOT NULL,
    last   bigint  NOT NULL,
    CONSTRAINT cmd_invoice_numbers_pkey PRIMARY KEY (tenant, year),
    CONSTRAINT cmd_invoice_numbers_last_check CHECK (last > 0)
);

-- Which customer has which services, per tenant, fed from the global feed (ServiceProvisioned,
-- ServiceTerminated). The billing run reads it instead of the read models.
CREATE TABLE cmd_billing_index (
    tenant        text NOT NULL,
    customer_id   uuid NOT NULL,
    service_id    uuid NOT NULL,
    terminated_on date,
    CONSTRAINT cmd_billing_index_pkey PRIMARY KEY (tenant, customer_id, service_id)
);

CREATE INDEX cmd_billing_index_service ON cmd_billing_index (tenant, service_id);

-- The feed position the billing index has read up to (one row).
CREATE TABLE cmd_billing_index_checkpoint (
    singleton boolean NOT NULL DEFAULT true,
    position  bigint  NOT NULL,
    CONSTRAINT cmd_billing_index_checkpoint_pkey PRIMARY KEY (singleton),
    CONSTRAINT cmd_billing_index_checkpoint_singleton_check CHECK (singleton)
);

INSERT INTO cmd_billing_index_checkpoint (singleton, position) VALUES (true, 0);

-- +goose Down
DROP TABLE cmd_billing_index_checkpoint;
DROP TABLE cmd_billing_index;
DROP TABLE cmd_invoice_numbers;
DROP TABLE cmd_idempotency;
