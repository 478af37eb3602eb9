-- +goose Up
-- The tracker's checkpoint moves to the feed consumers' table (eventstore/consumer), at
-- exactly the position it had: no payment is subtracted from an open invoice twice.
INSERT INTO feed_checkpoints (consumer, position)
SELECT 'process.tracker', position FROM proc_tracker_checkpoint
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, updated_at = now();
DROP TABLE proc_tracker_checkpoint;

-- +goose Down
CREATE TABLE proc_tracker_checkpoint (
    singleton boolean NOT NULL DEFAULT true,
    position  bigint  NOT NULL,
    CONSTRAINT proc_tracker_checkpoint_pkey PRIMARY KEY (singleton),
    CONSTRAINT proc_tracker_checkpoint_singleton_check CHECK (singleton)
);
INSERT INTO proc_tracker_checkpoint (singleton, position)
SELECT true, coalesce((SELECT position FROM feed_checkpoints WHERE consumer = 'process.tracker'), 0);
DELETE FROM feed_checkpoints WHERE consumer = 'process.tracker';
