package conformance

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// RaceConfig sizes the global-feed race. Zero values take the defaults (8 writers, 20,000 events).
type RaceConfig struct {
	Writers int
	Events  int
}

// RunRace runs the concurrency contract: the global feed under many writers, optimistic
// concurrency under contention, and appends abandoned midway.
func RunRace(t *testing.T, newStore Factory, cfg RaceConfig) {
	t.Helper()
	if cfg.Writers <= 0 {
		cfg.Writers = 8
	}
	if cfg.Events <= 0 {
		cfg.Events = 20_000
	}
	t.Run("GlobalFeed", func(t *testing.T) { t.Parallel(); testRaceGlobalFeed(t, newStore, cfg) })
	t.Run("SameExpectedVersion", func(t *testing.T) { t.Parallel(); testRaceSameExpectedVersion(t, newStore) })
	t.Run("CancelledAppends", func(t *testing.T) { t.Parallel(); testRaceCancelledAppends(t, newStore) })
}

// testRaceGlobalFeed: cfg.Writers goroutines append cfg.Events events across overlapping
// streams (with exact expected versions, retrying conflicts) while a live subscriber runs.
// The subscriber must see every committed event exactly once, in the store's global order,
// and a second reader from the start must see the identical sequence.
func testRaceGlobalFeed(t *testing.T, newStore Factory, cfg RaceConfig) {
	s := newStore(t)
	ctx := ctxFor(t, 5*time.Minute)
	start, err := s.Head(ctx)
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, start)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()

	streams := make([]string, 16) // fewer streams than writers: they collide
	for i := range streams {
		streams[i] = streamName(t, fmt.Sprintf("race%d", i))
	}
	var committed sync.Map // event id -> stream
	var remaining atomic.Int64
	remaining.Store(int64(cfg.Events))
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Writers)
	for w := range cfg.Writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := raceWriter(ctx, s, streams, uint64(w), &remaining, &committed); err != nil { //nolint:gosec // small
				errc <- err
			}
		}()
	}
	seen := make(chan []eventstore.Envelope, 1)
	go func() { seen <- collectUntil(ctx, sub, cfg.Events) }()
	wg.Wait()
	close(errc)
	for err := range errc {
		require.NoError(t, err)
	}
	live := <-seen
	require.Len(t, live, cfg.Events, "the live subscriber saw every committed event")
	assertFeed(t, live, &committed)
	replay := readAllFrom(t, s, start)
	require.Equal(t, len(live), len(replay))
	for i := range live {
		if live[i].ID != replay[i].ID || live[i].Position != replay[i].Position {
			t.Fatalf("replay differs from live at index %d: %v@%d vs %v@%d", i, live[i].ID, live[i].Position, replay[i].ID, replay[i].Position)
		}
	}
}

// raceWriter appends batches of 1 to 4 events until the shared budget is spent.
func raceWriter(ctx context.Context, s eventstore.Store, streams []string, seed uint64, remaining *atomic.Int64, committed *sync.Map) error {
	rng := rand.New(rand.NewPCG(seed, 0x5eed)) // #nosec G404 -- reproducible test data, not secrets
	known := map[string]uint64{}
	for {
		n := int64(1 + rng.IntN(4))
		left := remaining.Add(-n)
		if left < 0 {
			n += left
		}
		if n <= 0 {
			return nil
		}
		stream := streams[rng.IntN(len(streams))]
		events := newEvents(0, int(n))
		for attempt := 0; ; attempt++ {
			res, err := s.Append(ctx, stream, eventstore.Exact(known[stream]), events...)
			var wev *eventstore.WrongExpectedVersionError
			if errors.As(err, &wev) && attempt < 1000 {
				known[stream] = wev.Actual
				continue
			}
			if err != nil {
				return fmt.Errorf("writer %d: %w", seed, err)
			}
			known[stream] = res.LastVersion
			break
		}
		for _, e := range events {
			committed.Store(e.ID, stream)
		}
	}
}

func collectUntil(ctx context.Context, sub eventstore.Subscription, n int) []eventstore.Envelope {
	var out []eventstore.Envelope
	for len(out) < n {
		batch, err := sub.Next(ctx)
		if err != nil {
			return out
		}
		out = append(out, batch...)
	}
	// Anything more would be a duplicate or a phantom: give it a moment to show up.
	extra, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if batch, err := sub.Next(extra); err == nil {
		out = append(out, batch...)
	}
	return out
}

// assertFeed checks order, uniqueness, per-stream versions and that every event seen was
// committed (and every committed event seen: lengths are equal).
func assertFeed(t *testing.T, feed []eventstore.Envelope, committed *sync.Map) {
	t.Helper()
	ids := map[uuid.UUID]bool{}
	versions := map[string]uint64{}
	for i, e := range feed {
		if i > 0 && e.Position <= feed[i-1].Position {
			t.Fatalf("feed out of order at index %d: position %d after %d", i, e.Position, feed[i-1].Position)
		}
		if ids[e.ID] {
			t.Fatalf("event %v delivered twice", e.ID)
		}
		ids[e.ID] = true
		stream, ok := committed.Load(e.ID)
		if !assert.True(t, ok, "event %v was never committed by a writer", e.ID) {
			return
		}
		assert.Equal(t, stream, e.StreamID)
		if e.Version != versions[e.StreamID]+1 {
			t.Fatalf("stream %s: version %d follows %d in the feed", e.StreamID, e.Version, versions[e.StreamID])
		}
		versions[e.StreamID] = e.Version
	}
}

// testRaceSameExpectedVersion: many appends with the same expected version; exactly one wins.
func testRaceSameExpectedVersion(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 60*time.Second)
	for round := range 5 {
		stream := streamName(t, fmt.Sprintf("contend%d", round))
		mustAppend(t, s, stream, eventstore.NoStream(), newEvent(0))
		const contenders = 16
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		var gate sync.WaitGroup
		gate.Add(1)
		for range contenders {
			wg.Add(1)
			go func() {
				defer wg.Done()
				gate.Wait()
				_, err := s.Append(ctx, stream, eventstore.Exact(1), newEvent(1))
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, eventstore.ErrWrongExpectedVersion):
					conflicts.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		gate.Done()
		wg.Wait()
		assert.Equal(t, int32(1), wins.Load(), "round %d", round)
		assert.Equal(t, int32(contenders-1), conflicts.Load(), "round %d", round)
		got, err := s.ReadStream(ctx, stream, 1, eventstore.Forwards, 100)
		require.NoError(t, err)
		assert.Len(t, got, 2)
	}
}

// testRaceCancelledAppends: appends whose contexts are cancelled at random moments either
// land whole or not at all, and the subscriber keeps going past them.
func testRaceCancelledAppends(t *testing.T, newStore Factory) {
	s := newStore(t)
	ctx := ctxFor(t, 2*time.Minute)
	start, err := s.Head(ctx)
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, start)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()

	type attempt struct {
		stream string
		events []eventstore.EventData
		err    error
	}
	attempts := make([]attempt, 200)
	var wg sync.WaitGroup
	for i := range attempts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := attempt{stream: streamName(t, "cancel"), events: newEvents(i, 1+i%5)}
			actx, cancel := context.WithTimeout(ctx, time.Duration(rand.IntN(3000))*time.Microsecond) // #nosec G404 -- test jitter
			_, a.err = s.Append(actx, a.stream, eventstore.NoStream(), a.events...)
			cancel()
			attempts[i] = a
		}()
	}
	wg.Wait()
	final := mustAppend(t, s, streamName(t, "after"), eventstore.Any(), newEvent(-1))

	stored := map[uuid.UUID]bool{}
	for _, e := range readAllFrom(t, s, start) {
		stored[e.ID] = true
	}
	for _, a := range attempts {
		n := 0
		for _, e := range a.events {
			if stored[e.ID] {
				n++
			}
		}
		require.Truef(t, n == 0 || n == len(a.events), "append to %s is partial: %d of %d events stored", a.stream, n, len(a.events))
		if a.err == nil {
			require.Equal(t, len(a.events), n, "a successful append is durable")
		}
	}
	// The subscriber is not stalled: it reaches the final append.
	var last eventstore.Position
	for last < final.LastPosition {
		batch, err := sub.Next(ctx)
		require.NoError(t, err)
		last = batch[len(batch)-1].Position
	}
	assert.Equal(t, final.LastPosition, last)
}
