package projections

import (
	"context"
	"sync"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultMinBatchInterval is Options.MinBatchInterval's default.
const DefaultMinBatchInterval = 50 * time.Millisecond

// Pacing the live batches. On a busy feed a live partition would run one transaction per
// append (each append's events arrive while the previous batch commits), and a transaction
// costs the same handful of statements (begin, lock, registry, checkpoint, commit) whatever
// the number of events it folds. After a batch commits, its handler therefore holds the next
// one back until Options.MinBatchInterval has passed since this one began: the events
// appended meanwhile are applied together, so a busy feed costs each partition at most one
// transaction per interval (plus one per full batch: a backlog is never held back). The
// handler holds its message unacked meanwhile: the subscription reads the feed again only
// after the ack, and then reads everything appended during the pause. An event after an idle
// stretch longer than the interval is applied at once (nothing holds it: the pause ended).
//
// A WaitFor (read-your-writes) of this process asking for a position beyond the batch ends
// the pause early (demand), so pacing costs a waiter nothing; the waiters of another process
// (a query role apart from the projectors) wait for the interval at most.

// pace holds the handler after a committed batch that began at start and ended at last (its
// message held size events) until the interval has passed since start, a waiter of this
// process asks for a later position, or ctx ends (the subscription ends: the handler stops).
func (lh *liveHandler) pace(ctx context.Context, start time.Time, size int, last eventstore.Position) {
	iv := lh.r.opts.MinBatchInterval
	if iv <= 0 || size >= lh.r.opts.LiveBatchEvents {
		return
	}
	d := iv - lh.r.opts.Now().Sub(start)
	if d <= 0 {
		return
	}
	rise, wanted := lh.e.demand.beyond(last)
	if wanted {
		return
	}
	lh.r.opts.pause(ctx, d, rise)
}

// sleepPause is Options.pause's default: it sleeps d, or less when rise is closed or ctx
// ends.
func sleepPause(ctx context.Context, d time.Duration, rise <-chan struct{}) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-rise:
	case <-ctx.Done():
	}
}

// demand is what this process's waiters (WaitFor, WaitForTenant) ask of a projection, for the
// paused live handlers: one paused after a batch ending below the highest position a waiter
// still waits for resumes at once. A position asked beyond the feed's head (a reader's
// min_position) keeps the handlers from pausing only while its waiter waits.
type demand struct {
	mu   sync.Mutex
	asks map[eventstore.Position]int // the positions waiters wait for, and how many wait for each
	top  eventstore.Position         // the highest of asks (0: none)
	rise chan struct{}               // closed when top rises; nil until a handler pauses
}

// ask records a waiter's position, waking the paused handlers if it is the highest; done
// forgets it when the wait ends.
func (d *demand) ask(pos eventstore.Position) (done func()) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.asks == nil {
		d.asks = map[eventstore.Position]int{}
	}
	d.asks[pos]++
	if pos > d.top {
		d.top = pos
		if d.rise != nil {
			close(d.rise)
			d.rise = nil
		}
	}
	return func() {
		d.mu.Lock()
		defer d.mu.Unlock()
		if d.asks[pos]--; d.asks[pos] > 0 {
			return
		}
		delete(d.asks, pos)
		if pos == d.top {
			d.top = 0
			for p := range d.asks {
				d.top = max(d.top, p)
			}
		}
	}
}

// beyond reports whether a waiter waits for a position after last (wanted: do not pause), or
// else returns the channel closed when one asks for a higher position than any now.
func (d *demand) beyond(last eventstore.Position) (rise <-chan struct{}, wanted bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.top > last {
		return nil, true
	}
	if d.rise == nil {
		d.rise = make(chan struct{})
	}
	return d.rise, false
}
