package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestGenericPlansScanIndexes: the append's lookups and the feed's read run on their
// connections' generic plans (planning them on every call cost about 0.23 ms each under load),
// so those plans must be the index scans a custom plan would be, for any argument, once the
// table has grown and been analyzed. A sequential scan here would read the whole history on
// every append.
func TestGenericPlansScanIndexes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	_, err := pool.Exec(ctx, `INSERT INTO es_events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at, hash)
		SELECT g, gen_random_uuid(), 'acme/customer-' || (g % 2000), g / 2000 + 1, 'Tested', 1, '{}', '{}', now(), sha256(g::text::bytea)
		FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `INSERT INTO es_append_keys (scope, key, request_hash, command_id, recorded_at)
		SELECT 'acme', 'k-' || g, sha256(g::text::bytea), gen_random_uuid(), now() FROM generate_series(1, 20000) g`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `ANALYZE es_events, es_append_keys`)
	require.NoError(t, err)

	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	for _, tc := range []struct {
		name, sql, args, index string
	}{
		{"heads", postgres.HeadsSQL, `'{acme/customer-1,acme/customer-2}'`, "es_events_stream_version_key"},
		{"ids", postgres.IDsSQL, `ARRAY[gen_random_uuid(), gen_random_uuid()]`, "es_events_event_id_key"},
		{"keys", postgres.KeysSQL, `'{acme,acme}', '{k-1,k-2}'`, "es_append_keys_pkey"},
		{"read all", postgres.ReadAllSQL, `19990, 1000`, "es_events_pkey"},
		{"read all from the start", postgres.ReadAllSQL, `0, 1000`, "es_events_pkey"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "plan_" + strings.ReplaceAll(tc.name, " ", "_")
			_, err := conn.Exec(ctx, `PREPARE `+name+` AS `+tc.sql)
			require.NoError(t, err)
			var lines []string
			rows, err := conn.Query(ctx, `EXPLAIN EXECUTE `+name+`(`+tc.args+`)`)
			require.NoError(t, err)
			for rows.Next() {
				var line string
				require.NoError(t, rows.Scan(&line))
				lines = append(lines, line)
			}
			require.NoError(t, rows.Err())
			plan := strings.Join(lines, "\n")
			require.Contains(t, plan, "Index", plan)
			require.Contains(t, plan, tc.index, plan)
			require.NotContains(t, plan, "Seq Scan", plan)
			require.NotContains(t, plan, "Sort", plan)
		})
	}
}
