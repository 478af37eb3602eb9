-- +goose Up
-- The append-only event log. One row per event; `position` is the global feed order.
CREATE TABLE es_events (
    position       bigint      NOT NULL,
    event_id       uuid        NOT NULL,
    stream_id      text        NOT NULL,
    version        bigint      NOT NULL,
    type           text        NOT NULL,
    schema_version integer     NOT NULL,
    -- json (not jsonb) keeps the bytes exactly as appended: the hash chain covers them.
    data           json        NOT NULL,
    metadata       json        NOT NULL,
    recorded_at    timestamptz NOT NULL,
    hash           bytea       NOT NULL,
    CONSTRAINT es_events_pkey PRIMARY KEY (position),
    CONSTRAINT es_events_event_id_key UNIQUE (event_id),
    CONSTRAINT es_events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT es_events_position_check CHECK (position > 0),
    CONSTRAINT es_events_version_check CHECK (version > 0),
    CONSTRAINT es_events_hash_check CHECK (octet_length(hash) = 32)
);

-- Time lookups (as-of a date, history filters) follow append order, so BRIN is enough.
CREATE INDEX es_events_recorded_at_brin ON es_events USING brin (recorded_at);

-- History is append-only: refuse UPDATE, DELETE and TRUNCATE outright. Auditors still verify
-- the hash chain, because a superuser can disable triggers.
-- +goose StatementBegin
CREATE FUNCTION es_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'es_events is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER es_events_no_update_delete
    BEFORE UPDATE OR DELETE ON es_events
    FOR EACH ROW EXECUTE FUNCTION es_events_append_only();

CREATE TRIGGER es_events_no_truncate
    BEFORE TRUNCATE ON es_events
    FOR EACH STATEMENT EXECUTE FUNCTION es_events_append_only();

-- +goose Down
DROP TABLE es_events;
DROP FUNCTION es_events_append_only();
