-- +goose Up
-- The billing index's checkpoint moves to the feed consumers' table (eventstore/consumer),
-- at exactly the position it had: the index neither misses nor re-reads an event.
INSERT INTO feed_checkpoints (consumer, position)
SELECT 'commands.billing_index', position FROM cmd_billing_index_checkpoint
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = now();
DROP TABLE cmd_billing_index_checkpoint;

-- +goose Down
CREATE TABLE cmd_billing_index_checkpoint (
    singleton boolean NOT NULL DEFAULT true,
    position  bigint  NOT NULL,
    CONSTRAINT cmd_billing_index_checkpoint_pkey PRIMARY KEY (singleton),
    CONSTRAINT cmd_billing_index_checkpoint_singleton_check CHECK (singleton)
);
INSERT INTO cmd_billing_index_checkpoint (singleton, position)
SELECT true, coalesce((SELECT position FROM feed_checkpoints WHERE consumer = 'commands.billing_index'), 0);
DELETE FROM feed_checkpoints WHERE consumer = 'commands.billing_index';
