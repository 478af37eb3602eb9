-- +goose Up
-- The projection runtime's bookkeeping, in the application schema. Each build of a projection
-- lives in its own schema (named <app schema>__<projection>_b<N>); views in the application
-- schema point at the live build's tables.

-- Numbers builds, so every build schema name is new.
CREATE SEQUENCE projection_build_seq;

-- One row per build: the live one, a shadow one being rebuilt, or an analyst's as-of copy.
CREATE TABLE projection_builds (
    schema_name        text        NOT NULL,
    projection         text        NOT NULL,
    version            integer     NOT NULL,
    -- live: created as the live build; shadow: a rebuild, swapped in when caught up;
    -- as_of: a point-in-time copy into a schema an analyst named.
    purpose            text        NOT NULL,
    -- building -> live (serving) -> retired (swapped out, schema dropped), or building -> done
    -- (as-of copies) or building -> failed.
    status             text        NOT NULL,
    tables             text[]      NOT NULL,
    -- As-of builds stop at this position.
    target_position    bigint,
    -- The position of the last event applied, committed with the rows it produced.
    checkpoint         bigint      NOT NULL DEFAULT 0,
    -- recorded_at of the event at checkpoint.
    checkpoint_at      timestamptz,
    started_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    error              text,
    CONSTRAINT projection_builds_pkey PRIMARY KEY (schema_name),
    CONSTRAINT projection_builds_purpose_check CHECK (purpose IN ('live', 'shadow', 'as_of')),
    CONSTRAINT projection_builds_status_check CHECK (status IN ('building', 'live', 'retired', 'done', 'failed')),
    CONSTRAINT projection_builds_checkpoint_check CHECK (checkpoint >= 0)
);
CREATE INDEX projection_builds_projection_idx ON projection_builds (projection, status);

-- One row per projection: which build serves queries, and how the live projector fares.
CREATE TABLE projection_registry (
    name             text        NOT NULL,
    -- The version of the live build (projection_builds.version of live_build).
    version          integer     NOT NULL,
    live_build       text        NOT NULL REFERENCES projection_builds (schema_name),
    -- running | catching_up (replaying a backlog into the live build) | stalled (stopped at
    -- stalled_position, see last_error) | rebuilding (a shadow build is being filled).
    state            text        NOT NULL,
    last_error       text,
    stalled_position bigint,
    stalled_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT projection_registry_pkey PRIMARY KEY (name),
    CONSTRAINT projection_registry_state_check CHECK (state IN ('running', 'catching_up', 'stalled', 'rebuilding'))
);

-- +goose Down
DROP TABLE projection_registry;
DROP TABLE projection_builds;
DROP SEQUENCE projection_build_seq;
