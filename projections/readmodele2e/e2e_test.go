package readmodele2e_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
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
// It does so with one projector process, and with two sharing 4 tenant-hash partitions of a
// history of 5 tenants (each process applies its partitions' events).
func TestReadModelsLiveEqualsRebuild(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name                           string
		tenants, processes, partitions int
	}{{"one process", 1, 1, 1}, {"two processes, 4 partitions", 5, 2, 4}} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			liveEqualsRebuild(t, c.tenants, c.processes, c.partitions)
		})
	}
}

func liveEqualsRebuild(t *testing.T, tenants, processes, partitions int) {
	cfg := domainsim.Config{Customers: 26, Months: 6, Seed: 7}
	for i := range tenants {
		cfg.Tenants = append(cfg.Tenants, domainsim.Tenant{Name: fmt.Sprintf("isp%d", i), Currency: "USD"})
	}
	if tenants > 1 {
		cfg.Customers = 8
	}
	evs, err := readmodeltest.Generate(cfg)
	require.NoError(t, err)
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(context.Background(), pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)

	half := len(evs) / 2
	appendHistory(t, store, evs[:half])
	var rt *projections.Runtime
	for i := range processes {
		p, err := pgxpool.NewWithConfig(context.Background(), pool.Config().Copy())
		require.NoError(t, err)
		t.Cleanup(p.Close)
		s, err := postgres.Open(context.Background(), p, postgres.Config{})
		require.NoError(t, err)
		t.Cleanup(s.Close)
		rt = projectiontest.Start(t, p, s, readmodel.All(), projections.Options{LiveBatchEvents: 97, Partitions: partitions,
			Interval: 50 * time.Millisecond, Lease: consumer.LeaseConfig{Holder: fmt.Sprintf("p%d", i)}})
	}
	appendHistory(t, store, evs[half:])
	for _, p := range readmodel.All() {
		pos := projectiontest.WaitCaughtUp(t, rt, p.Name(), time.Minute)
		require.Equal(t, eventstore.Position(len(evs)), pos)
		st, err := rt.Status(context.Background(), p.Name())
		require.NoError(t, err)
		require.Equal(t, projections.StateRunning, st.State, "%s: %s", p.Name(), st.Error)
		require.Empty(t, st.StalledTenants, p.Name())
		t.Logf("%s: %d partitions, held by %s", p.Name(), st.PartitionCount, st.Holder)
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
