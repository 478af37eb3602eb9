package postgres_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestAppendStreamsOneTransaction: an AppendStreams call's appends go into one group-commit
// transaction, and a call larger than the batch limits is split across transactions, in order,
// every append answered.
func TestAppendStreamsOneTransaction(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	var mu sync.Mutex
	var batches []int
	s, err := postgres.Open(ctx, pool, postgres.Config{MaxBatchAppends: 100, OnBatch: func(appends, _ int, _ time.Duration, err error) {
		require.NoError(t, err)
		mu.Lock()
		batches = append(batches, appends)
		mu.Unlock()
	}})
	require.NoError(t, err)
	defer s.Close()
	appends := func(n int, prefix string) []eventstore.StreamAppend {
		out := make([]eventstore.StreamAppend, n)
		for i := range out {
			out[i] = eventstore.StreamAppend{Stream: prefix + itoa(i), Expected: eventstore.NoStream(), Events: []eventstore.EventData{
				{ID: newID(), Type: "Tested", SchemaVersion: 1, Data: []byte(`{"n":1}`)},
				{ID: newID(), Type: "Tested", SchemaVersion: 1, Data: []byte(`{"n":2}`)}}}
		}
		return out
	}
	for _, o := range s.AppendStreams(ctx, appends(80, "one-")) {
		require.NoError(t, o.Err)
	}
	// OnBatch runs after the batch's appends are answered: wait for it.
	seen := func(n int) []int {
		var got []int
		require.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			got = slices.Clone(batches)
			return len(got) >= n
		}, 10*time.Second, time.Millisecond)
		return got
	}
	assert.Equal(t, []int{80}, seen(1), "one transaction")
	mu.Lock()
	batches = nil
	mu.Unlock()

	out := s.AppendStreams(ctx, appends(250, "split-"))
	var last eventstore.Position
	for _, o := range out {
		require.NoError(t, o.Err)
		assert.Greater(t, o.Result.FirstPosition, last, "in the call's order")
		last = o.Result.LastPosition
	}
	assert.Equal(t, []int{100, 100, 50}, seen(3), "split at MaxBatchAppends")
}
