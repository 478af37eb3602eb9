package readmodele2e_test

import (
	"context"
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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

// events generates about DOTMAC_BENCH_EVENTS events (default 200,000): one tenant's
// customers billed monthly for a year, every event decided by the domain.
func events(b *testing.B) []projections.Event {
	b.Helper()
	n := 200_000
	if v, err := strconv.Atoi(os.Getenv("DOTMAC_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	const months = 12
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: domainsim.CustomersFor(n, months), Months: months, Seed: 42})
	require.NoError(b, err)
	return evs
}

// load copies evs into a fresh schema's es_events (positions as generated; the hashes are
// not chained: nothing here verifies them) and opens the store over it.
func load(b *testing.B, evs []projections.Event) (*pgxpool.Pool, *postgres.Store) {
	b.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(b, postgres.MigrationSet(), projections.MigrationSet())
	hash := make([]byte, 32)
	start := time.Now()
	_, err := pool.CopyFrom(ctx, pgx.Identifier{"es_events"},
		[]string{"position", "event_id", "stream_id", "version", "type", "schema_version", "data", "metadata", "recorded_at", "hash"},
		pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
			e := &evs[i].Envelope
			md, err := json.Marshal(&e.Metadata)
			if err != nil {
				return nil, err
			}
			return []any{int64(e.Position), e.ID, e.StreamID, int64(e.Version), e.Type, int32(e.SchemaVersion), //nolint:gosec // small
				string(e.Data), string(md), e.RecordedAt(), hash}, nil
		}))
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `VACUUM ANALYZE es_events`)
	require.NoError(b, err)
	b.Logf("loaded %d events in %s", len(evs), time.Since(start).Round(time.Millisecond))
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(b, err)
	b.Cleanup(store.Close)
	return pool, store
}

// BenchmarkReadModels loads a generated history into es_events once, then rebuilds read
// models through the runtime (shadow builds, replay from es_events, swap) and reports events
// of the feed per second: the three of the target together in one replay, then each
// alone; beside them, set-based SQL aggregates over the same es_events (the physical limit).
// The generated history is dropped from memory before measuring, as a rebuilding process
// would not hold it.
func BenchmarkReadModels(b *testing.B) {
	evs := events(b)
	pool, store := load(b, evs)
	n := len(evs)
	evs = nil //nolint:ineffassign,wastedassign // let the collector have the history
	runtime.GC()
	rt := projectiontest.New(b, pool, store, readmodel.All(), projections.Options{})
	for _, names := range [][]string{
		{readmodel.NameInvoices, readmodel.NameBalances, readmodel.NameJournal},
		{readmodel.NameInvoices}, {readmodel.NameBalances}, {readmodel.NameJournal},
	} {
		b.Run("rebuild="+strings.Join(names, "+"), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				start := time.Now()
				ps, err := rt.RebuildMany(context.Background(), names, projections.RebuildOptions{})
				total += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, eventstore.Position(n), ps[0].Position)
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
		})
	}
	for _, q := range []struct{ name, sql string }{
		{"sql=count-by-type", `SELECT count(*) FROM (SELECT type, count(*), sum(length(data::text)) FROM es_events GROUP BY type) t`},
		{"sql=invoiced-and-paid-per-customer", `SELECT count(*) FROM (SELECT data->>'customer_id',
			sum((data->'total'->>'amount')::numeric) FILTER (WHERE type = 'InvoiceIssued'),
			sum((data->'amount'->>'amount')::numeric) FILTER (WHERE type = 'PaymentRecorded')
			FROM es_events WHERE type IN ('InvoiceIssued', 'PaymentRecorded') GROUP BY 1) t`},
	} {
		b.Run(q.name, func(b *testing.B) {
			start := time.Now()
			for range b.N {
				var rows int64
				require.NoError(b, pool.QueryRow(context.Background(), q.sql).Scan(&rows))
			}
			b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
		})
	}
}

// probe wraps a read model and records, for each event it applies live, the time since the
// event was committed.
type probe struct {
	projections.Projection
	mu   sync.Mutex
	lags []time.Duration
}

func (p *probe) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	now := time.Now()
	p.mu.Lock()
	for i := range evs {
		p.lags = append(p.lags, now.Sub(evs[i].RecordedAt()))
	}
	p.mu.Unlock()
	return p.Projection.Apply(ctx, tx, evs)
}

// BenchmarkLiveLag appends a generated history (about 4,000 events, or DOTMAC_LIVE_EVENTS)
// through the event store while every read model projects it live, and reports the append
// rate and, over all read models, the p50 and p99 time from an event's commit to its apply.
// Appends keep the history's global order (one appender; each run of a stream's events in one
// append), so the read models see a history the command side could have written.
func BenchmarkLiveLag(b *testing.B) {
	n := 4_000
	if v, err := strconv.Atoi(os.Getenv("DOTMAC_LIVE_EVENTS")); err == nil && v > 0 {
		n = v
	}
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: domainsim.CustomersFor(n, 12), Months: 12, Seed: 11})
	require.NoError(b, err)
	for range b.N {
		pool := pgtest.Pool(b, postgres.MigrationSet(), projections.MigrationSet())
		store, err := postgres.Open(context.Background(), pool, postgres.Config{})
		require.NoError(b, err)
		var probes []*probe
		var projs []projections.Projection
		for _, p := range readmodel.All() {
			pr := &probe{Projection: p}
			probes, projs = append(probes, pr), append(projs, pr)
		}
		rt := projectiontest.Start(b, pool, store, projs, projections.Options{})
		start := time.Now()
		appendHistory(b, store, evs)
		elapsed := time.Since(start)
		for _, p := range readmodel.All() {
			projectiontest.WaitCaughtUp(b, rt, p.Name(), 5*time.Minute)
		}
		var lags []time.Duration
		for _, p := range probes {
			lags = append(lags, p.lags...)
		}
		slices.Sort(lags)
		q := func(f float64) float64 { return float64(lags[int(f*float64(len(lags)-1))].Microseconds()) / 1000 }
		b.ReportMetric(float64(len(evs))/elapsed.Seconds(), "events-appended/s")
		b.ReportMetric(q(0.50), "p50-lag-ms")
		b.ReportMetric(q(0.99), "p99-lag-ms")
		b.ReportMetric(q(1), "max-lag-ms")
		rt.Stop()
		store.Close()
	}
}
