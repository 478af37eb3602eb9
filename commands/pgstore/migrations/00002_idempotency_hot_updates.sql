-- +goose Up
-- A claim is inserted small and completed with its response: leave room in each page so the
-- completing UPDATE stays on the page (a HOT update, no index entries to add).
ALTER TABLE cmd_idempotency SET (fillfactor = 60);

-- Rows are inserted in created_at order, so a BRIN index serves the purge at a fraction of a
-- b-tree's cost per insert.
DROP INDEX cmd_idempotency_created_at;
CREATE INDEX cmd_idempotency_created_at_brin ON cmd_idempotency USING brin (created_at);

-- +goose Down
DROP INDEX cmd_idempotency_created_at_brin;
CREATE INDEX cmd_idempotency_created_at ON cmd_idempotency (created_at);
ALTER TABLE cmd_idempotency RESET (fillfactor);
