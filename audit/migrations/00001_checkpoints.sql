-- +goose Up
-- Signed checkpoints of the event feed (audit/checkpoint.go). Each row covers the events with
-- prev_position < position <= position and is signed with an Ed25519 key kept outside the
-- database; marks are the span's (position, stored hash) pairs the digest covers, so that a
-- verification can name the first event that differs from what was signed.
CREATE TABLE audit_checkpoints (
    position      bigint      NOT NULL,
    prev_position bigint      NOT NULL,
    prev_digest   bytea       NOT NULL,
    digest        bytea       NOT NULL,
    events        integer     NOT NULL,
    signed_at     timestamptz NOT NULL,
    key_id        text        NOT NULL,
    signature     bytea       NOT NULL,
    marks         bytea       NOT NULL,
    CONSTRAINT audit_checkpoints_pkey PRIMARY KEY (position),
    -- One checkpoint follows each: two signers racing for the same span insert one row.
    CONSTRAINT audit_checkpoints_prev_position_key UNIQUE (prev_position),
    CONSTRAINT audit_checkpoints_span_check CHECK (prev_position >= 0 AND prev_position < position),
    CONSTRAINT audit_checkpoints_digest_check CHECK (octet_length(prev_digest) = 32 AND octet_length(digest) = 32),
    CONSTRAINT audit_checkpoints_signature_check CHECK (octet_length(signature) = 64),
    CONSTRAINT audit_checkpoints_marks_check CHECK (events > 0 AND octet_length(marks) = 40 * events)
);

-- Checkpoints are append-only like the events they anchor. The owner role can still disable
-- this trigger: the signatures, not the trigger, are what an auditor relies on.
-- +goose StatementBegin
CREATE FUNCTION audit_checkpoints_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_checkpoints is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER audit_checkpoints_no_update_delete
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_append_only();

CREATE TRIGGER audit_checkpoints_no_truncate
    BEFORE TRUNCATE ON audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoints_append_only();

-- +goose Down
DROP TABLE audit_checkpoints;
DROP FUNCTION audit_checkpoints_append_only();
