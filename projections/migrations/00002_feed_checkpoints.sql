-- +goose Up
-- Each build's checkpoint moves to the feed consumers' table (eventstore/consumer), as the row
-- projections.<schema_name>, with its position and recorded-at: no build replays or skips.
INSERT INTO feed_checkpoints (consumer, position, recorded_at)
SELECT 'projections.' || schema_name, checkpoint, checkpoint_at FROM projection_builds
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, recorded_at = excluded.recorded_at, updated_at = now();
ALTER TABLE projection_builds DROP COLUMN checkpoint, DROP COLUMN checkpoint_at;

-- +goose Down
ALTER TABLE projection_builds ADD COLUMN checkpoint bigint NOT NULL DEFAULT 0,
    ADD COLUMN checkpoint_at timestamptz,
    ADD CONSTRAINT projection_builds_checkpoint_check CHECK (checkpoint >= 0);
UPDATE projection_builds b SET checkpoint = coalesce(f.position, 0), checkpoint_at = f.recorded_at
FROM feed_checkpoints f WHERE f.consumer = 'projections.' || b.schema_name;
DELETE FROM feed_checkpoints WHERE consumer LIKE 'projections.%';
