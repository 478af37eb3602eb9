package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestGenericPlansScanIndexes: the append's lookups and the feed's read run on their
// connections' generic plans (planning them on every call cost about 0.23 ms each under load),
// so those plans must be the index scans a custom plan would be, for any argument: once the
// table has grown and been analyzed, and also when the plan was made on the young table of a
// new install, never analyzed (autovacuum off, or not yet), and kept as the table grew. A
// sequential scan here reads the whole history on every append: a plan made on the empty
// table was one, until db.GenericPlansSQL turned sequential scans off.
func TestGenericPlansScanIndexes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, sql, args, index string
	}{
		{"heads", postgres.HeadsSQL, `'{acme/customer-1,acme/customer-2}'`, "es_events_stream_version_key"},
		{"ids", postgres.IDsSQL, `ARRAY[gen_random_uuid(), gen_random_uuid()]`, "es_events_event_id_key"},
		{"keys", postgres.KeysSQL, `'{acme,acme}', '{k-1,k-2}'`, "es_append_keys_pkey"},
		{"read all", postgres.ReadAllSQL, `19990, 1000`, "es_events_pkey"},
		{"read all from the start", postgres.ReadAllSQL, `0, 1000`, "es_events_pkey"},
	}
	for _, young := range []bool{false, true} {
		name := "grown and analyzed"
		if young {
			name = "planned young, never analyzed"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			pool := pgtest.Pool(t, postgres.MigrationSet())
			conn, err := pool.Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			for _, tc := range cases {
				_, err := conn.Exec(ctx, `PREPARE `+planName(tc.name)+` AS `+tc.sql)
				require.NoError(t, err)
			}
			if young {
				for _, tc := range cases {
					requireIndexPlan(ctx, t, conn, tc.name, tc.args, tc.index)
				}
			}
			fillHistory(ctx, t, conn, !young)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					requireIndexPlan(ctx, t, conn, tc.name, tc.args, tc.index)
				})
			}
		})
	}
}

// fillHistory inserts 20,000 events and as many keys, analyzed or not.
func fillHistory(ctx context.Context, t *testing.T, conn *pgxpool.Conn, analyze bool) {
	t.Helper()
	_, err := conn.Exec(ctx, `INSERT INTO es_events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at, hash)
		SELECT g, gen_random_uuid(), 'acme/customer-' || (g % 2000), g / 2000 + 1, 'Tested', 1, '{}', '{}', now(), sha256(g::text::bytea)
		FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `INSERT INTO es_append_keys (scope, key, request_hash, command_id, recorded_at)
		SELECT 'acme', 'k-' || g, sha256(g::text::bytea), gen_random_uuid(), now() FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	if analyze {
		_, err = conn.Exec(ctx, `ANALYZE es_events, es_append_keys`)
		require.NoError(t, err)
	}
}

// planName is the name a case's statement is prepared as.
func planName(name string) string { return "plan_" + strings.ReplaceAll(name, " ", "_") }

// requireIndexPlan checks the generic plan conn holds for the statement prepared as name's
// (made at its first execution, under the settings the store runs it with) reads through
// index and sorts nothing.
func requireIndexPlan(ctx context.Context, t *testing.T, conn *pgxpool.Conn, name, args, index string) {
	t.Helper()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, db.GenericPlansSQL)
	require.NoError(t, err)
	plan := pgtest.Explain(ctx, t, tx, `EXECUTE `+planName(name)+`(`+args+`)`)
	require.Contains(t, plan, "Index", plan)
	require.Contains(t, plan, index, plan)
	require.NotContains(t, plan, "Seq Scan", plan)
	require.NotContains(t, plan, "Sort", plan)
}
