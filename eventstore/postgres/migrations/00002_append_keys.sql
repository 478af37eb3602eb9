-- +goose Up
-- The idempotency keys of the commands whose events were appended (eventstore.KeyRecorder):
-- each recorded in the transaction that appends the first event carrying it, so a command and
-- its key are durable together. A key recorded alone (a command that appended nothing) has no
-- stream, version nor position, and its answer instead.
CREATE TABLE es_append_keys (
    scope        text        NOT NULL,
    key          text        NOT NULL,
    request_hash bytea       NOT NULL,
    command_id   uuid        NOT NULL,
    stream_id    text,
    version      bigint,
    position     bigint,
    answer       bytea,
    recorded_at  timestamptz NOT NULL,
    CONSTRAINT es_append_keys_pkey PRIMARY KEY (scope, key),
    CONSTRAINT es_append_keys_request_hash_check CHECK (octet_length(request_hash) = 32)
);

-- The purge deletes the oldest keys; keys are recorded in time order, so BRIN is enough.
CREATE INDEX es_append_keys_recorded_at_brin ON es_append_keys USING brin (recorded_at);

-- es_append_key_taken fails the transaction that calls it with a unique_violation: an append
-- written without reading the keys first (the writer's one round trip) calls it for a key of
-- its batch another command holds, and the writer then reads the keys and decides.
-- +goose StatementBegin
CREATE FUNCTION es_append_key_taken(scope text, key text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'idempotency key % of scope % recorded by another command', key, scope
        USING ERRCODE = 'unique_violation';
END;
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION es_append_key_taken(text, text);
DROP TABLE es_append_keys;
