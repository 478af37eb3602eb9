package readmodel_test

import (
	"context"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// benchBatch is the events per Apply (READMODEL_BENCH_BATCH; default 20,000, the runtime's
// default replay batch, projections.Options.ReplayBatchEvents).
var benchBatch = benchBatchSize()

var (
	benchOnce   sync.Once
	benchEvents []projections.Event
	benchErr    error
)

// benchHistory generates READMODEL_BENCH_EVENTS events (default 200,000) once per process:
// one tenant, its customers billed monthly for a year.
func benchHistory(b *testing.B) []projections.Event {
	b.Helper()
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400) // as `dotmac projections rebuild` runs
	}
	benchOnce.Do(func() {
		n := 200_000
		if v, err := strconv.Atoi(os.Getenv("READMODEL_BENCH_EVENTS")); err == nil && v > 0 {
			n = v
		}
		const months = 12
		customers := domainsim.CustomersFor(n, months)
		start := time.Now()
		benchEvents, benchErr = readmodeltest.Generate(domainsim.Config{Customers: customers, Months: months, Seed: 42})
		b.Logf("generated %d events (%d customers) in %s", len(benchEvents), customers, time.Since(start).Round(time.Millisecond))
	})
	require.NoError(b, benchErr)
	return benchEvents
}

// rebuild applies evs to p in a fresh schema, batch events per transaction, and returns
// the time Apply and the commits took.
func rebuild(b *testing.B, pool *pgxpool.Pool, p projections.Projection, evs []projections.Event) time.Duration {
	b.Helper()
	ctx := context.Background()
	schema := fmt.Sprintf("bench_%s_%d", p.Name(), time.Now().UnixNano())
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(b, err)
	defer func() { _, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") }()
	apply := func(f func(pgx.Tx) error) {
		require.NoError(b, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SET LOCAL search_path = "+schema); err != nil {
				return err
			}
			return f(tx)
		}))
	}
	apply(func(tx pgx.Tx) error { return p.Setup(ctx, tx) })
	start := time.Now()
	for from := 0; from < len(evs); from += benchBatch {
		part := evs[from:min(from+benchBatch, len(evs))]
		apply(func(tx pgx.Tx) error { return p.Apply(ctx, tx, part) })
	}
	return time.Since(start)
}

func benchPool(b *testing.B) *pgxpool.Pool {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), pgtest.ServerURL(b))
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	return pool
}

// BenchmarkRebuild rebuilds each read model from the generated history, as the runtime's
// replay does (batches of 20,000 events, one transaction each), and reports events/s. The
// events come decoded: decoding is the runtime's (see BenchmarkDecode).
//
//	READMODEL_BENCH_EVENTS=1000000 go test -run '^$' -bench Rebuild -benchtime 1x ./projections/readmodel/
func BenchmarkRebuild(b *testing.B) {
	evs := benchHistory(b)
	pool := benchPool(b)
	for _, p := range readmodel.All() {
		b.Run(p.Name(), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				total += rebuild(b, pool, p, evs)
			}
			b.ReportMetric(float64(len(evs)*b.N)/total.Seconds(), "events/s")
		})
	}
	// The target: invoices, balances and journal rebuilt side by side.
	b.Run("invoices+balances+journal", func(b *testing.B) {
		var total time.Duration
		for range b.N {
			start := time.Now()
			var wg sync.WaitGroup
			for _, p := range []projections.Projection{readmodel.Invoices{}, readmodel.Balances{}, readmodel.Journal{}} {
				wg.Go(func() { rebuild(b, pool, p, evs) })
			}
			wg.Wait()
			total += time.Since(start)
		}
		b.ReportMetric(float64(len(evs)*b.N)/total.Seconds(), "events/s")
	})
}

// BenchmarkDecode measures decoding the stored JSON of the same events (codec.Decode), the
// part of a rebuild the runtime does before Apply.
func BenchmarkDecode(b *testing.B) {
	evs := benchHistory(b)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		for i := range evs {
			if _, err := codec.Decode(&evs[i].Envelope); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(len(evs)*b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSQLAggregate is the baseline beside the rebuild: one SQL aggregate over the same
// events in a plain table (type, data): invoiced and paid amounts per customer.
func BenchmarkSQLAggregate(b *testing.B) {
	evs := benchHistory(b)
	pool := benchPool(b)
	ctx := context.Background()
	schema := fmt.Sprintf("bench_sql_%d", time.Now().UnixNano())
	_, err := pool.Exec(ctx, "CREATE SCHEMA "+schema+"; CREATE TABLE "+schema+".ev (position bigint, type text, data jsonb)")
	require.NoError(b, err)
	defer func() { _, _ = pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE") }()
	_, err = pool.CopyFrom(ctx, pgx.Identifier{schema, "ev"}, []string{"position", "type", "data"},
		pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
			return []any{int64(evs[i].Position), evs[i].Type, []byte(evs[i].Data)}, nil //nolint:gosec // positions fit
		}))
	require.NoError(b, err)
	_, err = pool.Exec(ctx, "VACUUM ANALYZE "+schema+".ev")
	require.NoError(b, err)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var customers int64
		err := pool.QueryRow(ctx, `SELECT count(*) FROM (SELECT data->>'customer_id',
			sum((data->'total'->>'amount')::numeric) FILTER (WHERE type = 'InvoiceIssued'),
			sum((data->'amount'->>'amount')::numeric) FILTER (WHERE type = 'PaymentRecorded')
			FROM `+schema+`.ev WHERE type IN ('InvoiceIssued', 'PaymentRecorded') GROUP BY 1) t`).Scan(&customers)
		require.NoError(b, err)
	}
	b.ReportMetric(float64(len(evs)*b.N)/time.Since(start).Seconds(), "events/s")
}

// benchBatchSize is READMODEL_BENCH_BATCH, default 20,000 (the runtime's default replay batch).
func benchBatchSize() int {
	if v, err := strconv.Atoi(os.Getenv("READMODEL_BENCH_BATCH")); err == nil && v > 0 {
		return v
	}
	return 20_000
}
