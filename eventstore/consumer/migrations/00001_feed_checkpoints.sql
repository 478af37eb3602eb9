-- +goose Up
-- One row per consumer of the global feed (eventstore/consumer): the projections' builds
-- (projections.<build>), the command side's billing index (commands.billing_index), the
-- process tracker (process.tracker) and the process managers' Watermill groups
-- (process.billing, process.dunning). A consumer that applies the feed to tables writes its
-- row in the same transaction as those tables; the lease columns say which process runs it.
CREATE TABLE feed_checkpoints (
    consumer         text        NOT NULL,
    -- The position of the last event applied (NULL: nothing stored yet; readers take 0).
    position         bigint,
    -- recorded_at of the event at position.
    recorded_at      timestamptz,
    -- The process holding the consumer's lease, until lease_expires_at; lease_renewed_at is
    -- its last heartbeat (kept after a release, to say when the consumer last ran).
    lease_holder     text,
    lease_expires_at timestamptz,
    lease_renewed_at timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT feed_checkpoints_pkey PRIMARY KEY (consumer),
    CONSTRAINT feed_checkpoints_position_check CHECK (position >= 0)
);

-- Adopt the Watermill consumer-group offsets of earlier installs (eventstore/watermill's
-- wm_offsets, topic $all: the process managers' groups), then drop that storage.
-- +goose StatementBegin
DO $$
BEGIN
    IF to_regclass('wm_offsets') IS NOT NULL THEN
        INSERT INTO feed_checkpoints (consumer, position, updated_at)
        SELECT CASE WHEN topic = '$all' THEN consumer_group ELSE consumer_group || '/' || topic END, position, updated_at
        FROM wm_offsets;
        DROP TABLE wm_offsets;
    END IF;
    DROP TABLE IF EXISTS wm_schema_migrations;
END $$;
-- +goose StatementEnd

-- +goose Down
DROP TABLE feed_checkpoints;
