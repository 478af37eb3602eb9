-- +goose Up
-- How many tenant-hash partitions a build's events are split into (projections.Options
-- .Partitions when the build was created; 1 for builds made before, for as-of copies and for
-- projections that declare Tuning.CrossTenant). A live build with more than one keeps one
-- checkpoint row per partition in feed_checkpoints (projections.<build>/pNN), each advanced in
-- the same transaction as that partition's rows, and projector processes claim the
-- partitions by lease. The count of a build never changes: a new count takes effect with the
-- next build (a rebuild).
ALTER TABLE projection_builds ADD COLUMN partitions integer NOT NULL DEFAULT 1
    CONSTRAINT projection_builds_partitions_check CHECK (partitions BETWEEN 1 AND 64);

-- +goose Down
ALTER TABLE projection_builds DROP COLUMN partitions;
