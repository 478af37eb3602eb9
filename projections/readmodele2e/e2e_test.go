package readmodele2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestReadModelsLiveEqualsRebuild stores a generated ISP history through the event store (half
// before the projectors start, half while they run), lets the runtime project it live with
// every read model, then rebuilds each into a copy and checks every table equals the live one:
// the live path (batches, redeliveries, checkpoints) and the replay path fold the same rows.
func TestReadModelsLiveEqualsRebuild(t *testing.T) {
	t.Parallel()
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: 26, Months: 6, Seed: 7})
	require.NoError(t, err)
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)

	half := len(evs) / 2
	appendHistory(t, store, evs[:half])
	rt := projectiontest.Start(t, pool, store, readmodel.All(), projections.Options{LiveBatchEvents: 97})
	appendHistory(t, store, evs[half:])
	for _, p := range readmodel.All() {
		pos := projectiontest.WaitCaughtUp(t, rt, p.Name(), time.Minute)
		require.Equal(t, eventstore.Position(len(evs)), pos)
		st, err := rt.Status(context.Background(), p.Name())
		require.NoError(t, err)
		require.Equal(t, projections.StateRunning, st.State, "%s: %s", p.Name(), st.Error)
	}

	app := rt.AppSchema()
	for _, p := range readmodel.All() {
		into := fmt.Sprintf("%s_%s", app, p.Name())
		_, err := rt.Rebuild(context.Background(), p.Name(), projections.RebuildOptions{Into: into})
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = pool.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+into+` CASCADE`) })
		for _, table := range p.Tables() {
			live, copied := pgx.Identifier{app, table}.Sanitize(), pgx.Identifier{into, table}.Sanitize()
			for _, q := range []string{live + ` EXCEPT SELECT * FROM ` + copied, copied + ` EXCEPT SELECT * FROM ` + live} {
				var n int
				require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM (SELECT * FROM `+q+`) d`).Scan(&n))
				assert.Zero(t, n, "%s.%s: live and rebuilt rows differ (%s)", p.Name(), table, q)
			}
			var rows int
			require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM `+live).Scan(&rows))
			t.Logf("%s.%s: %d rows", p.Name(), table, rows)
		}
	}
}

// appendHistory appends generated events through the store, each run of consecutive events of
// one stream in one append, keeping their ids and metadata.
func appendHistory(t testing.TB, store eventstore.Store, evs []projections.Event) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < len(evs); {
		j := i + 1
		for j < len(evs) && evs[j].StreamID == evs[i].StreamID {
			j++
		}
		data := make([]eventstore.EventData, 0, j-i)
		for _, e := range evs[i:j] {
			data = append(data, eventstore.EventData{ID: e.ID, Type: e.Type, SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: e.Metadata})
		}
		_, err := store.Append(ctx, evs[i].StreamID, eventstore.Exact(evs[i].Version-1), data...)
		require.NoError(t, err)
		i = j
	}
}
