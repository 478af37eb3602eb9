-- +goose Up
-- A projection that cannot apply an event (it does not decode, or Apply fails for a reason that
-- is not transient) stops for that event's tenant only: one row per build and tenant, written
-- in the transaction that commits the batch's rows and checkpoint. The build goes on with every
-- other tenant's events; this tenant's later events are left out of the build until
-- `dotmac projections retry` replays them from position. The error text is for operators only;
-- a tenant's answers carry error_id, never the text.
CREATE TABLE projection_tenant_stalls (
    build      text        NOT NULL REFERENCES projection_builds (schema_name) ON DELETE CASCADE,
    projection text        NOT NULL,
    -- metadata.tenant_id of the event ('' for an event without a tenant).
    tenant     text        NOT NULL,
    -- The position of the event that failed; the tenant's events from it on are left out.
    position   bigint      NOT NULL,
    error_id   text        NOT NULL,
    error      text        NOT NULL,
    stalled_at timestamptz NOT NULL DEFAULT now(),
    -- How many retries failed since the stall was first recorded.
    retries    integer     NOT NULL DEFAULT 0,
    CONSTRAINT projection_tenant_stalls_pkey PRIMARY KEY (build, tenant),
    CONSTRAINT projection_tenant_stalls_position_check CHECK (position > 0)
);
CREATE INDEX projection_tenant_stalls_projection_idx ON projection_tenant_stalls (projection);

-- +goose Down
DROP TABLE projection_tenant_stalls;
