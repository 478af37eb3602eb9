package readmodele2e_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// benchTenants is how many ISPs BenchmarkPartitionedLive's history has.
const benchTenants = 8

// BenchmarkPartitionedLive measures the live projectors sharing work: a generated history of
// about DOTMAC_BENCH_EVENTS events (default 200,000) of 8 tenants is loaded into es_events,
// then fresh live builds of every read model are filled through the live path only (no
// catch-up replay) by one projector process or by two (each with its own pool, sharing the
// partitions by lease), and the events of the feed per second are reported, from the
// processes' start until every read model has reached the head.
func BenchmarkPartitionedLive(b *testing.B) {
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("DOTMAC_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	tenants := make([]domainsim.Tenant, benchTenants)
	for i := range tenants {
		tenants[i] = domainsim.Tenant{Name: fmt.Sprintf("isp%d", i), Currency: "USD"}
	}
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: tenants, Customers: domainsim.CustomersFor(n/benchTenants, 12), Months: 12, Seed: 7})
	require.NoError(b, err)
	for _, c := range []struct{ projectors, partitions int }{{1, 1}, {2, 2}, {1, 4}, {2, 4}} {
		b.Run(fmt.Sprintf("projectors=%d/partitions=%d", c.projectors, c.partitions), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				pool, _ := load(b, evs)
				runtime.GC()
				total += liveFill(b, pool, c.projectors, c.partitions)
			}
			b.ReportMetric(float64(len(evs)*b.N)/total.Seconds(), "events/s")
		})
	}
}

// liveFill starts projectors processes over pool's schema, each with its own pool and store,
// and returns how long they took to bring every read model to the head.
func liveFill(b *testing.B, pool *pgxpool.Pool, projectors, partitions int) time.Duration {
	b.Helper()
	ctx := context.Background()
	rts := make([]*projections.Runtime, projectors)
	regs := make([]*prometheus.Registry, projectors)
	start := time.Now()
	for i := range rts {
		cfg := pool.Config().Copy()
		p, err := pgxpool.NewWithConfig(ctx, cfg)
		require.NoError(b, err)
		b.Cleanup(p.Close)
		store, err := postgres.Open(ctx, p, postgres.Config{})
		require.NoError(b, err)
		b.Cleanup(store.Close)
		regs[i] = prometheus.NewRegistry()
		rts[i] = projectiontest.Start(b, p, store, readmodel.All(), projections.Options{Partitions: partitions, CatchUpEvents: 1 << 40,
			Interval: 100 * time.Millisecond, Lease: consumer.LeaseConfig{Holder: fmt.Sprintf("p%d", i)}, Registerer: regs[i]})
	}
	for _, p := range readmodel.All() {
		projectiontest.WaitCaughtUp(b, rts[0], p.Name(), 30*time.Minute)
	}
	took := time.Since(start)
	for i, rt := range rts {
		b.Logf("process p%d applied %.0f events live (all read models), owns %.0f partitions (all read models together)", i,
			metricSum(b, regs[i], "dotmac_projection_events_applied_total"), metricSum(b, regs[i], "dotmac_projection_partitions_owned"))
		rt.Stop()
	}
	return took
}

// metricSum adds up every series of the metric name in reg.
func metricSum(b *testing.B, reg *prometheus.Registry, name string) float64 {
	b.Helper()
	mfs, err := reg.Gather()
	require.NoError(b, err)
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}
