-- +goose Up
-- Consumer-group offsets of the Watermill subscriber over the global feed: the position up to
-- which a group has acknowledged every message of a topic.
CREATE TABLE wm_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    position       bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT wm_offsets_pkey PRIMARY KEY (consumer_group, topic),
    CONSTRAINT wm_offsets_position_check CHECK (position >= 0)
);

-- +goose Down
DROP TABLE wm_offsets;
