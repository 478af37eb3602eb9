package postgres

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/dotmac/ledger/eventstore"
)

// tail is the newest stretch of the global feed the store's subscriptions have read, shared
// by all of them: every subscription of a process (one per live projection partition, the
// process managers' groups, the consumers' live feeds) is woken by the same commit and asks
// for the same events after the same position. One of them reads those events, once, and the
// others take them from here, instead of each running its own query: on a busy feed that
// was most of the store's reads (about one read per subscriber per append).
//
// It holds the feed's events in (lo, hi], as read by queries "position > hi": the events
// committed after hi at the time of each read, in order, exactly what each subscription's own
// query would have returned (a subscription that reads the feed past hi never looks back
// below its place either). A read from a position inside the stretch is answered from memory;
// at its end, one subscription reads what follows (a fill) while the others arriving meanwhile
// wait for it; from anywhere else (a subscription catching up from far behind) it is read
// from the database, as before, without touching the stretch. ReadAll answers from it too
// (peek) when the stretch holds what follows the position asked, and never fills it.
//
// The events handed out share their byte slices (data, metadata, hash) with every other
// subscription that got them: nothing in this repository writes into an envelope's slices.
// A subscription (read) gets the kept envelopes themselves, not a copy, as the store's
// Subscription.Next says: the stretch never writes where it handed envelopes out (it drops
// its oldest by moving its start, starts again after its end, and appends where none was
// handed out, or into a new array), so what a subscription holds stays as it got it.
// ReadAll (peek) gets a copy, as its callers own what it returns.
type tail struct {
	mu      sync.Mutex
	evs     []eventstore.Envelope // positions ascending, all in (lo, hi]
	lo, hi  eventstore.Position
	primed  bool // lo and hi are set
	max     int  // the most events kept, and read by one fill
	filling *fill
	// endWake is the listener's wake-up channel when the last fill that reached the end of
	// the feed (it read fewer than max events) began; nil when the last fill did not, or the
	// stretch started again since.
	endWake <-chan struct{}
}

// fill is one read of the feed's events after the stretch's end.
type fill struct {
	done chan struct{}
	err  error
}

func newTail(size int) *tail { return &tail{max: size} }

// read returns at most limit events after position after, in order (none: none are
// committed yet), as ReadAll would, reading with q when the stretch cannot answer. wake is the
// listener's wake-up channel the caller took before calling (pglisten.Snapshot), which it
// waits on when the answer is none (listening: whether the listener was connected, else the
// caller polls); snap returns the listener's current one.
//
// "None" must not hide a commit whose notification closed the channel before wake was taken
// (the caller would wait for the next commit): read answers it from memory only when the last
// fill that reached the end of the feed began within wake's epoch (snap() == wake when it
// began: whatever it did not see committed after it began, and its notification closes wake),
// or when wake is closed already (the caller reads again at once), and only while the
// listener is connected (a deaf listener's channel stays open: pollers need a fresh read).
// Otherwise a fill runs, and the caller that ran it answers with what it found.
func (t *tail) read(ctx context.Context, after eventstore.Position, limit int, wake <-chan struct{}, listening bool, snap func() <-chan struct{},
	q func(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error)) ([]eventstore.Envelope, error) {
	t.mu.Lock()
	for {
		if !t.primed || after > t.hi && t.filling == nil {
			// Nothing kept, or kept events older than this reader's place (nobody read the
			// feed for a while): the stretch starts again from here.
			t.evs, t.lo, t.hi, t.primed, t.endWake = t.evs[len(t.evs):], after, after, true, nil
		}
		switch {
		case after < t.lo || after > t.hi:
			// Behind the stretch (catching up), or ahead of a fill in flight: read directly.
			t.mu.Unlock()
			return q(ctx, after, limit)
		case after < t.hi:
			out := t.from(after, limit)
			t.mu.Unlock()
			return out, nil // shared, see tail
		case listening && t.filling == nil && t.endWake != nil && (t.endWake == wake || closed(wake)):
			t.mu.Unlock()
			return nil, nil
		}
		// At the end of the stretch, and what follows must be read.
		if f := t.filling; f != nil {
			t.mu.Unlock()
			select {
			case <-f.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			t.mu.Lock()
			continue
		}
		f := &fill{done: make(chan struct{})}
		t.filling = f
		from := t.hi
		t.mu.Unlock()
		began := snap()
		evs, err := q(ctx, from, t.max)
		t.mu.Lock()
		t.filling, f.err = nil, err
		if err == nil {
			t.add(from, evs)
			t.endWake = nil
			if len(evs) < t.max {
				t.endWake = began
			}
		}
		close(f.done)
		if err != nil || after == t.hi {
			// An error, or nothing new: this fill began after the call.
			t.mu.Unlock()
			return nil, err
		}
	}
}

// peek returns at most limit kept events after position after when the stretch holds what
// follows it (lo <= after < hi), without reading or waiting: ok is false otherwise.
func (t *tail) peek(after eventstore.Position, limit int) (events []eventstore.Envelope, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.primed || after < t.lo || after >= t.hi {
		return nil, false
	}
	return slices.Clone(t.from(after, limit)), true
}

func closed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// from returns at most limit kept events after position after (lo <= after < hi): the kept
// envelopes themselves, in a slice without room to append into the stretch's array.
func (t *tail) from(after eventstore.Position, limit int) []eventstore.Envelope {
	i := sort.Search(len(t.evs), func(i int) bool { return t.evs[i].Position > after })
	n := min(limit, len(t.evs)-i)
	return t.evs[i : i+n : i+n]
}

// add appends the events a fill read after position from (the stretch's end when it began,
// and still: only fills move it) and drops the oldest beyond max.
func (t *tail) add(from eventstore.Position, evs []eventstore.Envelope) {
	if from != t.hi || len(evs) == 0 {
		return
	}
	if drop := len(t.evs) + len(evs) - t.max; drop > 0 {
		if drop >= len(t.evs) {
			// The fill alone fills the stretch: it starts at the fill's start.
			t.evs, t.lo = t.evs[len(t.evs):], from
			if extra := len(evs) - t.max; extra > 0 {
				t.lo, evs = evs[extra-1].Position, evs[extra:]
			}
		} else {
			t.lo = t.evs[drop-1].Position
			t.evs = t.evs[drop:] // the array's dropped start is freed with its last reader
		}
	}
	t.evs = append(t.evs, evs...)
	t.hi = evs[len(evs)-1].Position
}
