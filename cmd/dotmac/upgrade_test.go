package main

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/process"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
)

// previousSchema builds the schema of the release before the feed consumer: each set at its
// last version from then, and eventstore/watermill's offsets table.
func previousSchema(ctx context.Context, t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool := pgtest.Pool(t)
	require.NoError(t, migrate.Up(ctx, pool, postgres.MigrationSet()))
	require.NoError(t, migrate.UpTo(ctx, pool, pgstore.MigrationSet(), 2))
	require.NoError(t, migrate.UpTo(ctx, pool, process.MigrationSet(), 2))
	require.NoError(t, migrate.UpTo(ctx, pool, projections.MigrationSet(), 1))
	_, err := pool.Exec(ctx, `
		CREATE TABLE wm_schema_migrations (id serial PRIMARY KEY, version_id bigint NOT NULL);
		CREATE TABLE wm_offsets (
			consumer_group text NOT NULL, topic text NOT NULL, position bigint NOT NULL,
			updated_at timestamptz NOT NULL DEFAULT now(),
			CONSTRAINT wm_offsets_pkey PRIMARY KEY (consumer_group, topic),
			CONSTRAINT wm_offsets_position_check CHECK (position >= 0))`)
	require.NoError(t, err)
	return pool
}

// TestUpgradeMovesEveryCheckpoint: upgrading an install whose consumers kept their places in
// their own tables moves every place, exactly, into feed_checkpoints (so no consumer skips
// or re-applies an event: no payment is subtracted twice from an open invoice), and drops
// the old storage.
func TestUpgradeMovesEveryCheckpoint(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := previousSchema(ctx, t)
	_, err := pool.Exec(ctx, `UPDATE cmd_billing_index_checkpoint SET position = 17;
		UPDATE proc_tracker_checkpoint SET position = 23;
		INSERT INTO wm_offsets (consumer_group, topic, position) VALUES ('process.billing', '$all', 5), ('process.dunning', '$all', 9);
		INSERT INTO projection_builds (schema_name, projection, version, purpose, status, tables, checkpoint, checkpoint_at)
		VALUES ('app__invoices_b1', 'invoices', 1, 'live', 'live', '{invoices}', 31, '2026-02-03 04:05:06+00'),
		       ('app__invoices_b2', 'invoices', 2, 'shadow', 'building', '{invoices}', 12, '2026-01-02 03:04:05+00')`)
	require.NoError(t, err)

	require.NoError(t, migrate.Up(ctx, pool, migrationSets()...))

	want := map[string]int64{"commands.billing_index": 17, "process.tracker": 23, "process.billing": 5, "process.dunning": 9,
		"projections.app__invoices_b1": 31, "projections.app__invoices_b2": 12}
	for consumer, pos := range want {
		var got int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT position FROM feed_checkpoints WHERE consumer = $1`, consumer).Scan(&got), consumer)
		assert.Equal(t, pos, got, consumer)
	}
	var at time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT recorded_at FROM feed_checkpoints WHERE consumer = 'projections.app__invoices_b1'`).Scan(&at))
	assert.True(t, at.Equal(time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)), "a build's checkpoint keeps its recorded-at: %s", at)
	var gone bool
	require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('cmd_billing_index_checkpoint') IS NULL
		AND to_regclass('proc_tracker_checkpoint') IS NULL AND to_regclass('wm_offsets') IS NULL
		AND NOT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema()
			AND table_name = 'projection_builds' AND column_name IN ('checkpoint', 'checkpoint_at'))`).Scan(&gone))
	assert.True(t, gone, "the old checkpoint tables and columns are dropped")
}
