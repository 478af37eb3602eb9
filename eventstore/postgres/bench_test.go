package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// BenchmarkAppend64x1 appends one event per append from 64 concurrent appenders, each to its
// own stream: the portal's shape of load. Compare events/s with pgbench's single-row insert
// transactions with 16 clients on the same server (see README, Performance).
func BenchmarkAppend64x1(b *testing.B) {
	s := mustOpen(b)
	ctx := context.Background()
	var streamSeq atomic.Int64
	b.SetParallelism(max(1, 64/benchProcs()))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		stream := fmt.Sprintf("bench-%d", streamSeq.Add(1))
		var version uint64
		for pb.Next() {
			res, err := s.Append(ctx, stream, eventstore.Exact(version), testEvent(1))
			if err != nil {
				b.Error(err)
				return
			}
			version = res.LastVersion
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkAppend100 appends 100 events per append, one appender.
func BenchmarkAppend100(b *testing.B) {
	s := mustOpen(b)
	ctx := context.Background()
	events := make([]eventstore.EventData, 100)
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for j := range events {
			events[j] = testEvent(j)
		}
		if _, err := s.Append(ctx, fmt.Sprintf("bulk-%d", i%1000), eventstore.Any(), events...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*100)/time.Since(start).Seconds(), "events/s")
}

// BenchmarkReadAll replays 200,000 events in pages of 10,000, decoded into envelopes.
func BenchmarkReadAll(b *testing.B) {
	const total, page = 200_000, 10_000
	s := mustOpen(b)
	ctx := context.Background()
	fill(b, s, total)
	b.ResetTimer()
	start := time.Now()
	for range b.N {
		var pos eventstore.Position
		n := 0
		for {
			batch, err := s.ReadAll(ctx, pos, page)
			require.NoError(b, err)
			if len(batch) == 0 {
				break
			}
			n += len(batch)
			pos = batch[len(batch)-1].Position
		}
		require.Equal(b, total, n)
	}
	b.ReportMetric(float64(b.N*total)/time.Since(start).Seconds(), "events/s")
}

func fill(b *testing.B, s eventstore.Store, total int) {
	b.Helper()
	ctx := context.Background()
	events := make([]eventstore.EventData, 1000)
	for i := 0; i < total; i += len(events) {
		for j := range events {
			events[j] = eventstore.EventData{ID: newID(), Type: "PaymentRecorded", SchemaVersion: 1,
				Data:     []byte(`{"payment_id":"0193f5a0-0000-7000-8000-000000000000","amount":{"amount":"79.99","currency":"USD"},"method":"card"}`),
				Metadata: eventstore.Metadata{TenantID: "acme", Actor: "bench", CorrelationID: "c", CommandID: "cmd"}}
		}
		_, err := s.Append(ctx, fmt.Sprintf("fill-%d", i%5000), eventstore.Any(), events...)
		require.NoError(b, err)
	}
}
