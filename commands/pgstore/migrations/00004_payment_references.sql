-- +goose Up
-- The payments recorded on customers' accounts that carry an external reference, per tenant,
-- fed from the global feed (PaymentRecorded) by its own consumer (commands.payment_references,
-- in feed_checkpoints), which starts at the beginning of the feed: payments recorded before
-- this table existed are indexed too. A provider payment nothing has claimed looks here for a
-- booking an older binary made on an account without a claim.
CREATE TABLE cmd_payment_references (
    tenant             text NOT NULL,
    external_reference text NOT NULL,
    customer_id        uuid NOT NULL,
    payment_id         uuid NOT NULL,
    method             text NOT NULL,
    position           bigint NOT NULL,
    CONSTRAINT cmd_payment_references_pkey PRIMARY KEY (tenant, external_reference, payment_id)
);

-- +goose Down
DROP TABLE cmd_payment_references;
