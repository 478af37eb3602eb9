package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// appendTrips counts the writer's round trips (the batches that take the append lock or
// insert events), and its inserts.
type appendTrips struct{ batches, inserts atomic.Int64 }

func (a *appendTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (a *appendTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (a *appendTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	writes := false
	for _, q := range d.Batch.QueuedQueries {
		if strings.Contains(q.SQL, "pg_advisory_xact_lock") || strings.HasPrefix(q.SQL, "INSERT INTO es_events") {
			writes = true
		}
		if strings.HasPrefix(q.SQL, "INSERT INTO es_events") {
			a.inserts.Add(1)
		}
	}
	if writes {
		a.batches.Add(1)
	}
	return ctx
}

func (a *appendTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (a *appendTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// twoWriters opens two stores on one schema, as two processes would, the first with its
// batches counted.
func twoWriters(t *testing.T) (a, b *postgres.Store, trips *appendTrips) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.SchemaURL(t)
	trips = &appendTrips{}
	return storeOn(ctx, t, url, trips, postgres.Config{}), storeOn(ctx, t, url, nil, postgres.Config{}), trips
}

// TestKnownStreamsAppendInOneRoundTrip: once the writer has read a stream's head (or appended
// to it), its next append takes the lock, inserts and commits in one round trip instead of
// two; the events are the same as the two round trips would have written.
func TestKnownStreamsAppendInOneRoundTrip(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, _, trips := twoWriters(t)

	_, err := a.Append(ctx, "acme/customer-1", eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	assert.Equal(t, int64(2), trips.batches.Load(), "a stream not known: the lock's round trip, then the insert's")
	before := trips.batches.Load()
	for i := 2; i <= 5; i++ {
		res, err := a.Append(ctx, "acme/customer-1", eventstore.Exact(uint64(i-1)), testEvent(i))
		require.NoError(t, err)
		assert.Equal(t, uint64(i), res.LastVersion)
		assert.Equal(t, eventstore.Position(i), res.LastPosition)
	}
	assert.Equal(t, before+4, trips.batches.Load(), "each append to the known stream: one round trip")
	assert.Equal(t, int64(5), trips.inserts.Load())
	requireChain(t, a, "acme/customer-1", 5)
}

// TestAnotherWriterBetweenAppends: a second writer appends to a stream the first one knows.
// The first one's next append, checked against a stale head, inserts nothing, reads the truth
// and is refused (the stream moved) or goes through on the version the other writer left;
// positions stay dense and the hash chain unbroken.
func TestAnotherWriterBetweenAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, _ := twoWriters(t)
	const s = "acme/customer-2"

	_, err := a.Append(ctx, s, eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	_, err = a.Append(ctx, s, eventstore.Exact(1), testEvent(2)) // known by a from here
	require.NoError(t, err)
	res, err := b.Append(ctx, s, eventstore.Exact(2), testEvent(3))
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(3), res.LastPosition)

	_, err = a.Append(ctx, s, eventstore.Exact(2), testEvent(4))
	var wrong *eventstore.WrongExpectedVersionError
	require.ErrorAs(t, err, &wrong, "a's stale head said version 2")
	assert.Equal(t, uint64(3), wrong.Actual)

	_, err = b.Append(ctx, "acme/customer-3", eventstore.NoStream(), testEvent(5)) // the head moves again
	require.NoError(t, err)
	res, err = a.Append(ctx, s, eventstore.Any(), testEvent(6))
	require.NoError(t, err)
	assert.Equal(t, uint64(4), res.LastVersion)
	assert.Equal(t, eventstore.Position(5), res.LastPosition, "after b's two events: dense")
	requireChain(t, a, s, 4)
}

// TestWriterBacksOffWhileAnotherAppends: while another writer appends between every two of
// its batches, a writer stops trying the one round trip (each try would find the head moved
// and cost a round trip for nothing) and takes the two; once the other one stops, it is back
// to one round trip per append within two appends.
func TestWriterBacksOffWhileAnotherAppends(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, trips := twoWriters(t)
	_, err := a.Append(ctx, "acme/customer-a", eventstore.NoStream(), testEvent(0))
	require.NoError(t, err)
	_, err = b.Append(ctx, "acme/customer-b", eventstore.NoStream(), testEvent(0))
	require.NoError(t, err)

	const n = 100
	before := trips.batches.Load()
	for i := 1; i <= n; i++ {
		_, err := a.Append(ctx, "acme/customer-a", eventstore.Exact(uint64(i)), testEvent(i))
		require.NoError(t, err)
		_, err = b.Append(ctx, "acme/customer-b", eventstore.Exact(uint64(i)), testEvent(i))
		require.NoError(t, err)
	}
	interleaved := trips.batches.Load() - before
	assert.LessOrEqual(t, interleaved, int64(2*n+8), "about two round trips per append, not three")

	var alone []int64
	for i := n + 1; i <= n+5; i++ {
		before := trips.batches.Load()
		_, err := a.Append(ctx, "acme/customer-a", eventstore.Exact(uint64(i)), testEvent(i))
		require.NoError(t, err)
		alone = append(alone, trips.batches.Load()-before)
	}
	assert.Equal(t, []int64{1, 1, 1}, alone[2:], "one round trip again once alone: %v", alone)
	requireChain(t, a, "acme/customer-a", n+6)
	requireChain(t, a, "acme/customer-b", n+1)
}

// TestRetriesWithKnownStreams: the retry of an append stored already is answered as a
// duplicate whether its expected version now fails (NoStream) or passes (Any: the insert
// meets the stored ids, and the two round trips tell it apart from a real duplicate).
func TestRetriesWithKnownStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, _, _ := twoWriters(t)
	const s = "acme/customer-4"

	first := []eventstore.EventData{testEvent(1), testEvent(2)}
	orig, err := a.Append(ctx, s, eventstore.NoStream(), first...)
	require.NoError(t, err)
	again, err := a.Append(ctx, s, eventstore.NoStream(), first...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate)
	assert.Equal(t, orig.LastPosition, again.LastPosition)

	second := []eventstore.EventData{testEvent(3)}
	orig, err = a.Append(ctx, s, eventstore.Any(), second...)
	require.NoError(t, err)
	again, err = a.Append(ctx, s, eventstore.Any(), second...)
	require.NoError(t, err)
	assert.True(t, again.Duplicate, "a retry with Any meets its own ids")
	assert.Equal(t, orig.LastPosition, again.LastPosition)

	_, err = a.Append(ctx, "acme/customer-5", eventstore.NoStream(), second...)
	require.ErrorIs(t, err, eventstore.ErrDuplicateEventID, "the same ids elsewhere are refused")

	res, err := a.Append(ctx, s, eventstore.Exact(3), testEvent(4))
	require.NoError(t, err, "the writer carries on")
	assert.Equal(t, uint64(4), res.LastVersion)
	requireChain(t, a, s, 4)
}

// TestTwoWritersRace: two writers append concurrently to the same streams, each append
// expecting the version it last saw and retrying on a conflict. Every acknowledged append is
// stored once, each stream's versions and hash chain are whole, positions dense.
func TestTwoWritersRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, _ := twoWriters(t)
	const streams, perWorker, workers = 4, 60, 4
	var acked atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, 2*workers)
	for w := range 2 * workers {
		s := a
		if w%2 == 1 {
			s = b
		}
		wg.Go(func() {
			seen := map[string]uint64{}
			for i := range perWorker {
				stream := fmt.Sprintf("acme/customer-r%d", (w+i)%streams)
				for {
					ev := testEvent(w*1000 + i)
					exp := eventstore.NoStream()
					if v := seen[stream]; v > 0 {
						exp = eventstore.Exact(v)
					}
					res, err := s.Append(ctx, stream, exp, ev)
					var wrong *eventstore.WrongExpectedVersionError
					if errors.As(err, &wrong) {
						seen[stream] = wrong.Actual
						continue
					}
					if err != nil {
						errs <- err
						return
					}
					seen[stream] = res.LastVersion
					acked.Add(1)
					break
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, int64(2*workers*perWorker), acked.Load())
	total := 0
	for k := range streams {
		stream := fmt.Sprintf("acme/customer-r%d", k)
		envs, err := a.ReadStream(ctx, stream, 1, eventstore.Forwards, eventstore.MaxReadLimit)
		require.NoError(t, err)
		requireChain(t, a, stream, len(envs))
		total += len(envs)
	}
	assert.Equal(t, 2*workers*perWorker, total)
	all, err := a.ReadAll(ctx, 0, eventstore.MaxReadLimit)
	require.NoError(t, err)
	require.Len(t, all, total)
	for i := range all {
		require.Equal(t, eventstore.Position(i+1), all[i].Position, "dense positions")
	}
}

// requireChain checks stream has n events, versions 1..n, each hash chained on the previous.
func requireChain(t *testing.T, s *postgres.Store, stream string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	envs, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, eventstore.MaxReadLimit)
	require.NoError(t, err)
	require.Len(t, envs, n)
	var prev []byte
	for i := range envs {
		require.Equal(t, uint64(i+1), envs[i].Version)
		require.Equal(t, eventstore.ChainHash(prev, &envs[i]), envs[i].Hash, "the chain of %s at version %d", stream, i+1)
		prev = envs[i].Hash
	}
}
