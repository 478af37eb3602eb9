package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
)

// keyRace has one command per store in stores (taken in turn) append to a stream of its own,
// all at once, each carrying the same key k: exactly one wins, every other one is refused
// naming the winner, and stores nothing. With known, each stream has an event already,
// appended by the store its command uses (so that its writer knows the stream).
func keyRace(t *testing.T, stores []*postgres.Store, name string, known bool) {
	t.Helper()
	ctx := context.Background()
	const commands = 32
	k := newKey("k-" + name)
	keys, streams := make([]*eventstore.AppendKey, commands), make([]string, commands)
	for i := range commands {
		keys[i], streams[i] = withKey(k), fmt.Sprintf("acme/%s-%d", name, i)
	}
	var before uint64
	if known {
		before = 1
		// The first store last, so that its writer knows the head when the race starts.
		for j := len(stores) - 1; j >= 0; j-- {
			for i := j; i < commands; i += len(stores) {
				_, err := stores[j].Append(ctx, streams[i], eventstore.NoStream(), testEvent(i))
				require.NoError(t, err)
			}
		}
	}
	results, errs := make([]eventstore.AppendResult, commands), make([]error, commands)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range commands {
		wg.Go(func() {
			<-start
			results[i], errs[i] = stores[i%len(stores)].Append(ctx, streams[i], eventstore.Any(), keyedEvent(i, keys[i]))
		})
	}
	close(start)
	wg.Wait()

	winner := -1
	for i, err := range errs {
		if err == nil {
			require.Equal(t, -1, winner, "two commands won key %q: %d and %d", k.Key, winner, i)
			winner = i
		}
	}
	require.NotEqual(t, -1, winner, "a command wins the key: %v", errs)
	for i, err := range errs {
		if i == winner {
			requireStream(t, stores[0], streams[i], int(before)+1)
			continue
		}
		got := requireTaken(t, err, streams[i], keys[i], keys[winner])
		assert.Equal(t, streams[winner], got.Stream)
		assert.Equal(t, results[winner].FirstPosition, got.Position)
		requireStream(t, stores[0], streams[i], int(before))
	}
	got := mustLookup(t, stores[0], k)
	assert.Equal(t, keys[winner].CommandID, got.CommandID)
	assert.Equal(t, results[winner].FirstPosition, got.Position)
}

// TestKeyRaceOneStore: commands racing for one key through one store share its writer's
// batches: the first accepted in a batch wins, the others are carried to the next and find
// the key recorded; on streams the writer knows or not.
func TestKeyRaceOneStore(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	for round := range 3 {
		keyRace(t, []*postgres.Store{s}, fmt.Sprintf("new%d", round), false)
		keyRace(t, []*postgres.Store{s}, fmt.Sprintf("known%d", round), true)
	}
}

// TestKeyRaceTwoStores: the same through two stores on one schema, as two processes. A store
// that tries its one round trip after the other recorded the key finds the head stale: it
// records neither its event nor its key, and the two round trips decide.
func TestKeyRaceTwoStores(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, trips := keyedWriters(t)

	_, err := a.Append(ctx, "acme/customer-a", eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	k := newKey("k-first")
	res, err := b.Append(ctx, "acme/customer-b", eventstore.NoStream(), keyedEvent(2, k))
	require.NoError(t, err)
	_, err = a.Append(ctx, "acme/customer-a", eventstore.Exact(1), keyedEvent(3, withKey(k)))
	got := requireTaken(t, err, "acme/customer-a", k, k)
	assert.Equal(t, res.FirstPosition, got.Position)
	assert.Equal(t, int64(1), trips.known.Load(), "tried in one round trip")
	assert.Zero(t, trips.knownRefused.Load(), "stale: inserted nothing, so no key conflicted")
	assert.Positive(t, trips.reads.Load(), "then decided on the keys read")
	requireChain(t, a, "acme/customer-a", 1)

	for round := range 3 {
		keyRace(t, []*postgres.Store{a, b}, fmt.Sprintf("new%d", round), false)
		keyRace(t, []*postgres.Store{a, b}, fmt.Sprintf("known%d", round), true)
	}
	t.Logf("store a: %d one-round-trip batches with keys, %d refused; %d key reads",
		trips.known.Load(), trips.knownRefused.Load(), trips.reads.Load())
}
