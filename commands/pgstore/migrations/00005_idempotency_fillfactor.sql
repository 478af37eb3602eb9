-- +goose Up
-- A claim is inserted at about 150 bytes and completed at about 600 (the stored response).
-- At fillfactor 60 only two completions in five stayed on their page (measured with
-- pg_stat_user_tables under `dotmac bench --scenario commands`): the rest moved their row to
-- another page and added a primary-key entry for it. At 15 a page takes about eight claims,
-- and the completions of all eight fit beside them even before their claims' old versions
-- are pruned (a long transaction elsewhere holds that back), so a completion is a HOT
-- update: about 1 KB of page per completed key, as much as the moved rows took at 60.
ALTER TABLE cmd_idempotency SET (fillfactor = 15);

-- +goose Down
ALTER TABLE cmd_idempotency SET (fillfactor = 60);
