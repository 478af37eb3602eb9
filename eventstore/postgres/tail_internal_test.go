package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// fakeFeed is a feed in memory with a listener's wake-up channel: append closes it, as a
// commit's notification does.
type fakeFeed struct {
	mu    sync.Mutex
	evs   []eventstore.Envelope
	wake  chan struct{}
	reads atomic.Int64
}

func newFakeFeed() *fakeFeed { return &fakeFeed{wake: make(chan struct{})} }

func (f *fakeFeed) append(n int) {
	f.mu.Lock()
	for range n {
		f.evs = append(f.evs, eventstore.Envelope{Position: eventstore.Position(len(f.evs) + 1), Data: []byte(`{}`)})
	}
	close(f.wake)
	f.wake = make(chan struct{})
	f.mu.Unlock()
}

func (f *fakeFeed) snap() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.wake
}

func (f *fakeFeed) read(_ context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error) {
	f.reads.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []eventstore.Envelope
	for _, e := range f.evs {
		if e.Position > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

func positions(evs []eventstore.Envelope) []eventstore.Position {
	out := make([]eventstore.Position, len(evs))
	for i := range evs {
		out[i] = evs[i].Position
	}
	return out
}

// TestTailOneReadForEveryReaderAtTheEnd: the readers at the feed's end after a commit get its
// events from one query between them.
func TestTailOneReadForEveryReaderAtTheEnd(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(100)
	f.append(3)
	wake := f.snap()
	for range 8 {
		got, err := tl.read(ctx, 3, 100, wake, true, f.snap, f.read)
		require.NoError(t, err)
		assert.Empty(t, got)
	}
	assert.EqualValues(t, 1, f.reads.Load(), "the readers at the end share the empty answer of one read in their epoch")
	f.reads.Store(0)
	f.append(2)
	for range 8 {
		got, err := tl.read(ctx, 3, 100, f.snap(), true, f.snap, f.read)
		require.NoError(t, err)
		assert.Equal(t, []eventstore.Position{4, 5}, positions(got))
	}
	assert.EqualValues(t, 1, f.reads.Load(), "eight readers, one read")
}

// TestTailNoneOnlyFromTheReadersEpoch: an answer "nothing new" read before the reader took its
// wake-up channel is not given to it: a commit notified in between would never wake it.
func TestTailNoneOnlyFromTheReadersEpoch(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(100)
	got, err := tl.read(ctx, 0, 100, f.snap(), true, f.snap, f.read)
	require.NoError(t, err)
	require.Empty(t, got)
	f.append(1) // committed and notified: the next reader's channel is a new one
	got, err = tl.read(ctx, 0, 100, f.snap(), true, f.snap, f.read)
	require.NoError(t, err)
	assert.Equal(t, []eventstore.Position{1}, positions(got))
	assert.EqualValues(t, 2, f.reads.Load())
}

// TestTailDeafReadersRead: while the listener is down, readers poll, and each poll reads.
func TestTailDeafReadersRead(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(100)
	wake := f.snap()
	for range 3 {
		_, err := tl.read(ctx, 0, 100, wake, false, f.snap, f.read)
		require.NoError(t, err)
	}
	assert.EqualValues(t, 3, f.reads.Load())
}

// TestTailKeepsTheNewestEvents: the stretch keeps at most max events; a reader behind it
// reads the database, and every reader gets exactly the feed's events after its place.
func TestTailKeepsTheNewestEvents(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(4)
	var head eventstore.Position
	for range 5 {
		f.append(3)
		got, err := tl.read(ctx, head, 4, f.snap(), true, f.snap, f.read)
		require.NoError(t, err)
		require.NotEmpty(t, got)
		head = got[len(got)-1].Position
	}
	assert.LessOrEqual(t, len(tl.evs), 4)
	for after := range head {
		got, err := tl.read(ctx, after, 2, f.snap(), true, f.snap, f.read)
		require.NoError(t, err)
		want := []eventstore.Position{after + 1, after + 2}
		if after+2 > head {
			want = want[:head-after]
		}
		assert.Equal(t, want, positions(got), "after %d", after)
	}
}

// TestTailReadersMissNothing: readers waiting on the feed's notifications while it grows, each
// from its own place, all get every event once, in order (run with -race).
func TestTailReadersMissNothing(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(16)
	const total, readers = 500, 12
	var wg sync.WaitGroup
	got := make([][]eventstore.Position, readers)
	for r := range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var at eventstore.Position
			for at < total {
				wake := f.snap()
				evs, err := tl.read(ctx, at, 1+r%5, wake, true, f.snap, f.read)
				if err != nil {
					t.Error(err)
					return
				}
				if len(evs) == 0 {
					<-wake
					continue
				}
				got[r] = append(got[r], positions(evs)...)
				at = evs[len(evs)-1].Position
			}
		}()
	}
	for n := 0; n < total; {
		k := min(1+n%7, total-n)
		f.append(k)
		n += k
	}
	wg.Wait()
	want := make([]eventstore.Position, total)
	for i := range want {
		want[i] = eventstore.Position(i + 1)
	}
	for r := range readers {
		assert.Equal(t, want, got[r], "reader %d", r)
	}
}

// TestTailPeek: ReadAll's look into the stretch answers only from inside it (lo <= after < hi),
// with exactly the feed's events after the place asked, and never reads or fills.
func TestTailPeek(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(4)
	_, ok := tl.peek(0, 10)
	assert.False(t, ok, "nothing kept yet")
	f.append(6)
	got, err := tl.read(ctx, 0, 10, f.snap(), true, f.snap, f.read)
	require.NoError(t, err)
	require.Len(t, got, 4)
	got, err = tl.read(ctx, 4, 10, f.snap(), true, f.snap, f.read)
	require.NoError(t, err)
	require.Len(t, got, 2) // the stretch now holds (2, 6]
	reads := f.reads.Load()
	for _, c := range []struct {
		after eventstore.Position
		limit int
		want  []eventstore.Position
		ok    bool
	}{
		{after: 1, limit: 10, ok: false},                                         // behind the stretch
		{after: 2, limit: 10, want: []eventstore.Position{3, 4, 5, 6}, ok: true}, // at its start
		{after: 4, limit: 1, want: []eventstore.Position{5}, ok: true},
		{after: 5, limit: 10, want: []eventstore.Position{6}, ok: true},
		{after: 6, limit: 10, ok: false}, // at its end: what follows may be committed since
		{after: 9, limit: 10, ok: false},
	} {
		got, ok := tl.peek(c.after, c.limit)
		assert.Equal(t, c.ok, ok, "after %d", c.after)
		if c.ok {
			assert.Equal(t, c.want, positions(got), "after %d", c.after)
		}
	}
	assert.Equal(t, reads, f.reads.Load(), "peek never reads")
}

// TestTailNeverWritesWhereItHandedOut: subscriptions get the kept envelopes themselves, so the
// stretch must never write where it handed them out: every slice read returned still holds,
// after fills that dropped the oldest, appended and started the stretch again, the events
// it held when it was returned. ReadAll's peek returns a copy its caller may change.
func TestTailNeverWritesWhereItHandedOut(t *testing.T) {
	ctx := context.Background()
	f, tl := newFakeFeed(), newTail(8)
	type handed struct {
		evs  []eventstore.Envelope
		want []eventstore.Position
	}
	var kept []handed
	var at eventstore.Position
	for round := range 60 {
		f.append(1 + round%5)
		if round%13 == 12 {
			at += 20 // a reader far ahead of the stretch: it starts again after its end
			f.append(25)
		}
		for {
			evs, err := tl.read(ctx, at, 1+round%3, f.snap(), true, f.snap, f.read)
			require.NoError(t, err)
			if len(evs) == 0 {
				break
			}
			kept = append(kept, handed{evs: evs, want: positions(evs)})
			at = evs[len(evs)-1].Position
			// A caller appending to what it got must not write into the stretch.
			_ = append(evs, eventstore.Envelope{Position: 1 << 40})
		}
	}
	require.Greater(t, len(kept), 50)
	for i, h := range kept {
		require.Equal(t, h.want, positions(h.evs), "slice %d changed after it was handed out", i)
	}

	got, ok := tl.peek(at-2, 10)
	require.True(t, ok)
	got[0].Position = 0
	again, ok := tl.peek(at-2, 10)
	require.True(t, ok)
	assert.Equal(t, at-1, again[0].Position, "a peek's caller owns its copy")
}
