-- +goose Up
-- Webhook endpoints are configuration, not ledger facts: a command-side table (see package
-- integration/webhooks). The secret is kept to sign deliveries; the query API never shows it.
CREATE TABLE webhook_endpoints (
    id                uuid        NOT NULL,
    tenant            text        NOT NULL,
    url               text        NOT NULL,
    description       text        NOT NULL DEFAULT '',
    event_types       text[]      NOT NULL DEFAULT '{}',
    secret            text        NOT NULL,
    enabled           boolean     NOT NULL DEFAULT true,
    from_position     bigint      NOT NULL,
    idempotency_key   text        NOT NULL,
    request_hash      bytea       NOT NULL,
    rotate_key        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at timestamptz,
    -- failures counts the failed attempts in a row; while paused_until is ahead, no delivery
    -- of the endpoint is attempted, and while failures > 0 one at a time (a probe).
    failures          integer     NOT NULL DEFAULT 0,
    paused_until      timestamptz,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id),
    CONSTRAINT webhook_endpoints_idempotency UNIQUE (tenant, idempotency_key),
    CONSTRAINT webhook_endpoints_from_position_check CHECK (from_position >= 0)
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant, created_at, id);

-- One delivery per endpoint and event; its attempts are webhook_attempts. payload holds the
-- exact bytes that are signed and sent (the CloudEvents JSON), never re-encoded.
CREATE TABLE webhook_deliveries (
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    id              uuid        NOT NULL DEFAULT gen_random_uuid(),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    tenant          text        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    position        bigint      NOT NULL,
    payload         bytea       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz,
    expires_at      timestamptz NOT NULL,
    locked_until    timestamptz,
    last_status     integer,
    last_error      text,
    last_latency_ms integer,
    delivered_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (seq),
    CONSTRAINT webhook_deliveries_id UNIQUE (id),
    CONSTRAINT webhook_deliveries_event UNIQUE (endpoint_id, event_id),
    CONSTRAINT webhook_deliveries_status_check CHECK (status IN ('pending', 'delivered', 'failed'))
);
-- The dispatcher's claims: an endpoint's due deliveries, oldest first, and its claimed ones.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, seq) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_claimed ON webhook_deliveries (endpoint_id) WHERE status = 'pending' AND locked_until IS NOT NULL;
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, seq);

CREATE TABLE webhook_attempts (
    delivery_seq bigint      NOT NULL REFERENCES webhook_deliveries (seq) ON DELETE CASCADE,
    n            integer     NOT NULL,
    started_at   timestamptz NOT NULL,
    latency_ms   integer     NOT NULL,
    status_code  integer,
    error        text,
    CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_seq, n)
);

-- +goose Down
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_endpoints;
