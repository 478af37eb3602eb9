package projections_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	goruntime "runtime"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
)

// Benchmarks of the replay loop. The event count is DOTMAC_BENCH_EVENTS (default 200,000;
// the target is stated for 1,000,000):
//
//	DOTMAC_BENCH_EVENTS=1000000 go test -run '^$' -bench 'Replay|SQLBaseline' -benchtime 3x ./projections/

func benchEvents() int {
	if n, err := strconv.Atoi(os.Getenv("DOTMAC_BENCH_EVENTS")); err == nil && n > 0 {
		return n
	}
	return 200_000
}

// eventCounts is the trivial projection: events per type, folded in memory and written with
// one statement per batch, so the measure is the runtime's (read, decode, transaction) cost.
type eventCounts struct{}

func (eventCounts) Name() string               { return "event_counts" }
func (eventCounts) Version() int               { return 1 }
func (eventCounts) Tables() []string           { return []string{"event_counts"} }
func (eventCounts) Tuning() projections.Tuning { return projections.Tuning{} }

func (eventCounts) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `CREATE TABLE event_counts (type text PRIMARY KEY, events bigint NOT NULL)`)
	return err
}

func (eventCounts) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	counts := map[string]int64{}
	for i := range evs {
		counts[evs[i].Type]++
	}
	types, ns := make([]string, 0, len(counts)), make([]int64, 0, len(counts))
	for t, n := range counts {
		types, ns = append(types, t), append(ns, n)
	}
	_, err := tx.Exec(ctx, `INSERT INTO event_counts AS c SELECT * FROM unnest($1::text[], $2::bigint[])
ON CONFLICT (type) DO UPDATE SET events = c.events + excluded.events`, types, ns)
	return err
}

// domainEvent returns the i-th of a realistic mix of domain events (payments, registrations,
// contact changes) with fresh UUIDv7 ids, as the command side stores them.
func domainEvent(i int) eventstore.EventData {
	id := func() string { return uuid.Must(uuid.NewV7()).String() }
	var typ, data string
	switch i % 3 {
	case 0:
		typ = "PaymentRecorded"
		data = `{"customer_id":"` + id() + `","payment_id":"` + id() + `","amount":{"amount":"79.99","currency":"USD"},"method":"card",` +
			`"external_reference":"ch_` + strconv.Itoa(i) + `","received_at":"2026-01-10T09:00:00Z","allocations":[{"invoice_id":"` + id() +
			`","amount":{"amount":"79.99","currency":"USD"}}],"unapplied":{"amount":"0.00","currency":"USD"},"recorded_at":"2026-01-10T09:00:01Z"}`
	case 1:
		typ = "CustomerRegistered"
		data = `{"customer_id":"` + id() + `","name":"Customer ` + strconv.Itoa(i) + `","email":"c` + strconv.Itoa(i) + `@example.com",` +
			`"phone":"+2348000000000","billing_address":"1 Fiber Way, Lagos","currency":"USD","registered_at":"2026-01-10T09:00:00Z"}`
	default:
		typ = "CustomerContactUpdated"
		data = `{"customer_id":"` + id() + `","name":"Customer ` + strconv.Itoa(i) + `","email":"new` + strconv.Itoa(i) + `@example.com",` +
			`"phone":"","billing_address":"2 Fiber Way, Lagos","updated_at":"2026-01-11T09:00:00Z"}`
	}
	return eventstore.EventData{ID: uuid.Must(uuid.NewV7()), Type: typ, SchemaVersion: 1, Data: []byte(data),
		Metadata: eventstore.Metadata{TenantID: "acme", Actor: "bench", CorrelationID: "corr", CommandID: "cmd"}}
}

// fillDomain appends n domain events through the store, 10,000 per append, and checks that
// the codec decodes them.
func fillDomain(tb testing.TB, store eventstore.Store, n int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	for i := 0; i < n; {
		k := min(n-i, eventstore.MaxEventsPerAppend)
		evs := make([]eventstore.EventData, k)
		for j := range evs {
			evs[j] = domainEvent(i + j)
		}
		_, err := store.Append(ctx, fmt.Sprintf("t-acme/customer-%d", i/k), eventstore.Any(), evs...)
		require.NoError(tb, err)
		i += k
	}
	envs, err := store.ReadAll(ctx, 0, 3)
	require.NoError(tb, err)
	for i := range envs {
		_, err := codec.Decode(&envs[i])
		require.NoError(tb, err, "the benchmark's events must decode")
	}
	tb.Logf("filled %d events in %s", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkReplay rebuilds the trivial projection over the whole feed (an as-of copy into a
// fresh schema: the replay path of every rebuild, without the final swap), decoding every
// event with the domain codec ("decode=domain"), only the third it handles
// ("decode=domain-filtered", an EventFilter), or none ("decode=none": the runtime's own cost:
// reading, scanning, batching, transactions).
func BenchmarkReplay(b *testing.B) {
	n := benchEvents()
	e := newEnv(b)
	fillDomain(b, e.store, n)
	for _, bc := range []struct {
		name   string
		proj   projections.Projection
		decode func(*eventstore.Envelope) (domain.Event, error)
	}{
		{"decode=domain", eventCounts{}, codec.Decode},
		{"decode=domain-filtered", paymentsOnly{}, codec.Decode},
		{"decode=none", eventCounts{}, func(*eventstore.Envelope) (domain.Event, error) { return nil, nil }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			rt := projectiontest.New(b, e.pool, e.store, []projections.Projection{bc.proj}, projections.Options{Decode: bc.decode})
			var total time.Duration
			for i := range b.N {
				into := fmt.Sprintf("%s_r%d", e.app, i)
				start := time.Now()
				p, err := rt.Rebuild(context.Background(), "event_counts", projections.RebuildOptions{Into: into})
				total += time.Since(start)
				require.NoError(b, err)
				require.Equal(b, eventstore.Position(n), p.Position)
				b.StopTimer()
				_, err = e.pool.Exec(context.Background(), `DROP SCHEMA `+into+` CASCADE`)
				require.NoError(b, err)
				b.StartTimer()
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
		})
	}
}

// namedCounts is eventCounts under another name and table, to rebuild several at once.
type namedCounts struct{ name string }

func (c namedCounts) Name() string             { return c.name }
func (namedCounts) Version() int               { return 1 }
func (c namedCounts) Tables() []string         { return []string{c.name} }
func (namedCounts) Tuning() projections.Tuning { return projections.Tuning{} }

func (c namedCounts) Setup(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, `CREATE TABLE `+c.name+` (type text PRIMARY KEY, events bigint NOT NULL)`)
	return err
}

func (c namedCounts) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	counts := map[string]int64{}
	for i := range evs {
		counts[evs[i].Type]++
	}
	for t, n := range counts {
		if _, err := tx.Exec(ctx, `INSERT INTO `+c.name+` AS c VALUES ($1, $2) ON CONFLICT (type) DO UPDATE SET events = c.events + $2`, t, n); err != nil {
			return err
		}
	}
	return nil
}

// BenchmarkRebuildThree rebuilds three trivial projections together (RebuildMany: one
// replay, each event decoded once, three shadow builds swapped in), reporting events/s of the
// feed.
func BenchmarkRebuildThree(b *testing.B) {
	n := benchEvents()
	e := newEnv(b)
	fillDomain(b, e.store, n)
	names := []string{"counts_a", "counts_b", "counts_c"}
	projs := []projections.Projection{namedCounts{names[0]}, namedCounts{names[1]}, namedCounts{names[2]}}
	rt := projectiontest.New(b, e.pool, e.store, projs, projections.Options{})
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		ps, err := rt.RebuildMany(context.Background(), names, projections.RebuildOptions{})
		require.NoError(b, err)
		require.Equal(b, eventstore.Position(n), ps[0].Position)
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkSQLBaseline is the physical limit beside BenchmarkReplay: one set-based aggregate
// over the same events, as PostgreSQL runs it.
func BenchmarkSQLBaseline(b *testing.B) {
	n := benchEvents()
	e := newEnv(b)
	fillDomain(b, e.store, n)
	start := time.Now()
	for range b.N {
		rows, err := e.pool.Query(context.Background(), `SELECT type, count(*), sum(length(data::text)) FROM es_events GROUP BY type`)
		require.NoError(b, err)
		var total int64
		for rows.Next() {
			var t string
			var c, l int64
			require.NoError(b, rows.Scan(&t, &c, &l))
			total += c
		}
		require.NoError(b, rows.Err())
		require.Equal(b, int64(n), total)
	}
	b.ReportMetric(float64(n*b.N)/time.Since(start).Seconds(), "events/s")
}

// lagProbe records, for every event it applies live, how long after its commit that was.
type lagProbe struct {
	eventCounts
	mu   sync.Mutex
	lags []time.Duration
}

func (p *lagProbe) Name() string { return "lag_probe" }

func (p *lagProbe) Apply(ctx context.Context, tx pgx.Tx, evs []projections.Event) error {
	now := time.Now()
	p.mu.Lock()
	for i := range evs {
		p.lags = append(p.lags, now.Sub(evs[i].RecordedAt()))
	}
	p.mu.Unlock()
	return p.eventCounts.Apply(ctx, tx, evs)
}

// BenchmarkLiveLag appends from 64 concurrent appenders (one event each, the portal's shape)
// while the live projector runs, and reports the p50 and p99 time from an event's commit to
// its apply.
func BenchmarkLiveLag(b *testing.B) {
	e := newEnv(b)
	probe := &lagProbe{}
	rt := projectiontest.Start(b, e.pool, e.store, []projections.Projection{probe}, projections.Options{})
	var seq atomic.Int64
	b.SetParallelism(max(1, 64/max(1, runtimeProcs())))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("t-acme/customer-lag-%d", seq.Add(1))
		for i := 0; pb.Next(); i++ {
			if _, err := e.store.Append(context.Background(), stream, eventstore.Any(), domainEvent(i)); err != nil {
				b.Error(err)
				return
			}
		}
	})
	elapsed := time.Since(start)
	projectiontest.WaitCaughtUp(b, rt, "lag_probe", time.Minute)
	b.StopTimer()
	probe.mu.Lock()
	defer probe.mu.Unlock()
	slices.Sort(probe.lags)
	if len(probe.lags) == 0 {
		return
	}
	q := func(f float64) float64 {
		return float64(probe.lags[int(f*float64(len(probe.lags)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "appends/s")
	b.ReportMetric(q(0.50), "p50-lag-ms")
	b.ReportMetric(q(0.99), "p99-lag-ms")
}

func runtimeProcs() int { return goruntime.GOMAXPROCS(0) }

// paymentsOnly is eventCounts reading payments only (Tuning.Handles): the runtime decodes a
// third of the benchmark's events.
type paymentsOnly struct{ eventCounts }

func (paymentsOnly) Tuning() projections.Tuning {
	return projections.Tuning{Handles: []string{"PaymentRecorded"}}
}

// BenchmarkLiveCatchUp feeds a backlog through the live path only (the Watermill subscriber's
// batch messages, one transaction each, no replay), and reports events/s and messages/s: a
// message carries up to LiveBatchEvents events, so Watermill's one ack per message is not the
// limit.
func BenchmarkLiveCatchUp(b *testing.B) {
	n := min(benchEvents(), 200_000)
	e := newEnv(b)
	fillDomain(b, e.store, n)
	b.ResetTimer()
	var total time.Duration
	for i := range b.N {
		name := fmt.Sprintf("live_%d", i)
		start := time.Now()
		rt := projectiontest.Start(b, e.pool, e.store, []projections.Projection{namedCounts{name}},
			projections.Options{CatchUpEvents: 1 << 30})
		projectiontest.WaitCaughtUp(b, rt, name, 5*time.Minute)
		total += time.Since(start)
		b.StopTimer()
		rt.Stop()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/total.Seconds(), "events/s")
	b.ReportMetric(float64(n*b.N)/1000/total.Seconds(), "messages/s")
}
