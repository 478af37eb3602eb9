package readapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
	"github.com/dotmac/ledger/readapi"
	"github.com/dotmac/ledger/readapi/loadtest"
)

// benchEnv is the query API over read models kept by the real projection runtime from a
// generated history of READAPI_BENCH_EVENTS events (default 100,000) in es_events.
type benchEnv struct {
	env
	invoices, customers []string // sample ids of tenant acme
}

func buildBenchEnv(b *testing.B) *benchEnv {
	ctx := context.Background()
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("READAPI_BENCH_EVENTS")); err == nil && v > 0 {
		n = v
	}
	const months = 12
	evs, err := readmodeltest.Generate(domainsim.Config{Customers: domainsim.CustomersFor(n, months), Months: months, Seed: 5})
	require.NoError(b, err)
	pool := pgtest.Pool(b, postgres.MigrationSet(), projections.MigrationSet())
	copyEvents(b, pool, evs)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(b, err)
	b.Cleanup(store.Close)
	start := time.Now()
	rt := projectiontest.Start(b, pool, store, readmodel.All(), projections.Options{})
	for _, p := range readmodel.All() {
		projectiontest.WaitCaughtUp(b, rt, p.Name(), 10*time.Minute)
	}
	b.Logf("%d events projected in %s", len(evs), time.Since(start).Round(time.Millisecond))
	analyzeBuilds(b, pool)
	e := &benchEnv{env: env{t: b, pool: pool, key: testKey(b)}}
	e.handler = e.serve(readapi.Config{DB: pool, Auth: e.key, Positions: rt})
	e.invoices = sample(b, pool, `SELECT invoice_id::text FROM invoices WHERE tenant_id = 'acme' ORDER BY random() LIMIT 2000`)
	e.customers = sample(b, pool, `SELECT customer_id::text FROM customers WHERE tenant_id = 'acme' ORDER BY random() LIMIT 2000`)
	return e
}

// analyzeBuilds gathers planner statistics on the freshly filled build schemas (autovacuum
// would, a little later).
func analyzeBuilds(b *testing.B, pool *pgxpool.Pool) {
	b.Helper()
	ctx := context.Background()
	tables := sample(b, pool, `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema LIKE current_schema() || '\_\_%' AND table_type = 'BASE TABLE'`)
	for _, t := range tables {
		_, err := pool.Exec(ctx, "ANALYZE "+t)
		require.NoError(b, err)
	}
}

// copyEvents writes evs into es_events as generated (the hash chain is not built: nothing
// here verifies it).
func copyEvents(b *testing.B, pool *pgxpool.Pool, evs []projections.Event) {
	b.Helper()
	hash := make([]byte, 32)
	_, err := pool.CopyFrom(context.Background(), pgx.Identifier{"es_events"},
		[]string{"position", "event_id", "stream_id", "version", "type", "schema_version", "data", "metadata", "recorded_at", "hash"},
		pgx.CopyFromSlice(len(evs), func(i int) ([]any, error) {
			e := &evs[i].Envelope
			md, err := json.Marshal(&e.Metadata)
			return []any{int64(e.Position), e.ID, e.StreamID, int64(e.Version), e.Type, int32(e.SchemaVersion), //nolint:gosec // small
				string(e.Data), string(md), e.RecordedAt(), hash}, err
		}))
	require.NoError(b, err)
}

func sample(b *testing.B, pool *pgxpool.Pool, sql string) []string {
	b.Helper()
	rows, err := pool.Query(context.Background(), sql)
	require.NoError(b, err)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	require.NoError(b, err)
	require.NotEmpty(b, ids)
	return ids
}

// benchGet serves paths[i % len] through the router, in parallel, and reports latency
// percentiles beside ns/op.
func benchGet(b *testing.B, e *benchEnv, paths []string) {
	b.Helper()
	tok := e.token("acme", "invoices:read")
	var mu sync.Mutex
	var lat []time.Duration
	var next int64
	var nmu sync.Mutex
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			nmu.Lock()
			p := paths[next%int64(len(paths))]
			next++
			nmu.Unlock()
			req := httptest.NewRequest(http.MethodGet, p, nil)
			req.Header.Set("Authorization", "Bearer "+tok)
			w := httptest.NewRecorder()
			start := time.Now()
			e.handler.ServeHTTP(w, req)
			mine = append(mine, time.Since(start))
			if w.Code != http.StatusOK {
				b.Errorf("GET %s: %d %s", p, w.Code, w.Body)
				return
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	if len(lat) > 0 {
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	}
}

// BenchmarkQueryAPI measures the two endpoints over read models the real runtime
// keeps: through the router in parallel (no network; ns/op, p50 and p99), then with a real
// load generator (vegeta, through readapi/loadtest) at 1,000 requests/s on a TCP socket for
// READAPI_LOAD_SECONDS (default 10) per endpoint, reporting each one's p50 and p99.
//
//	go test -run '^$' -bench QueryAPI ./readapi/
//	READAPI_BENCH_EVENTS=1000000 go test -run '^$' -bench QueryAPI/load -benchtime 1x ./readapi/
func BenchmarkQueryAPI(b *testing.B) {
	e := buildBenchEnv(b)
	byID := loadtest.Group{Name: "invoice-by-id"}
	for _, id := range e.invoices {
		byID.Paths = append(byID.Paths, "/v1/invoices/"+id)
	}
	list := loadtest.Group{Name: "customer-invoices"}
	for _, id := range e.customers {
		list.Paths = append(list.Paths, "/v1/customers/"+id+"/invoices")
	}
	b.Run("router/invoice-by-id", func(b *testing.B) { benchGet(b, e, byID.Paths) })
	b.Run("router/customer-invoices", func(b *testing.B) { benchGet(b, e, list.Paths) })
	b.Run("load-1000rps", func(b *testing.B) {
		srv := httptest.NewServer(e.handler)
		defer srv.Close()
		seconds := 10
		if v, err := strconv.Atoi(os.Getenv("READAPI_LOAD_SECONDS")); err == nil && v > 0 {
			seconds = v
		}
		for range b.N {
			res, err := loadtest.Run(context.Background(), loadtest.Config{BaseURL: srv.URL, Token: e.token("acme", "invoices:read"),
				Rate: 1000, Duration: time.Duration(seconds) * time.Second, Warmup: 2 * time.Second}, byID, list)
			require.NoError(b, err)
			for _, r := range res {
				b.Log(r)
				require.InDelta(b, 1, r.Success, 0.0001, "%v %v", r.Status, r.Errors)
				b.ReportMetric(float64(r.P99.Microseconds())/1000, r.Group+"-p99-ms")
				b.ReportMetric(float64(r.P50.Microseconds())/1000, r.Group+"-p50-ms")
			}
		}
	})
}
