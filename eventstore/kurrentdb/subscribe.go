package kurrentdb

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dotmac/ledger/eventstore"
)

// Backoff between attempts to re-establish a dropped subscription.
const (
	firstResubscribeDelay = 100 * time.Millisecond
	maxResubscribeDelay   = 5 * time.Second
)

// systemStreamFilter leaves KurrentDB's own streams ($stats-..., $ce-..., $$metadata, ...) out
// of a subscription on the server. One server-side filter is allowed, on streams or on types;
// streams leave out more (projection results have plain type names), and system types in
// plain streams ($streamDeleted, $> links) are skipped as events arrive (isSystem).
var systemStreamFilter = esdb.SubscriptionFilter{Type: esdb.StreamFilterType, Regex: `^[^\$]`}

// SubscribeAll implements eventstore.Store with a catch-up subscription to $all (not a
// persistent one: those do not guarantee order). The subscription is established before
// SubscribeAll returns, within ctx; it lives until Close, not until ctx ends. A goroutine reads
// it into a buffer of Config.SubscriptionBatch events, which Next hands out. A subscription the
// server or network drops is re-established from the last event buffered.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sub := &subscription{s: s, items: make(chan item, s.cfg.SubscriptionBatch), closed: make(chan struct{})}
	sub.ctx, sub.cancel = context.WithCancel(context.Background())
	sub.pos.Store(uint64(after))
	var last *esdb.Position
	if p, ok := fromPosition(after).(esdb.Position); ok {
		last = &p
	}
	stop := context.AfterFunc(ctx, sub.cancel) // ctx bounds only the first subscribe
	inner, err := sub.open(last)
	if !stop() || err != nil {
		sub.cancel()
		if err == nil {
			_ = inner.Close()
			err = classify(ctx, "subscribe all", ctx.Err())
		}
		return nil, err
	}
	go sub.pump(inner, last)
	return sub, nil
}

// item is one envelope, or the error that ended the subscription.
type item struct {
	env eventstore.Envelope
	err error
}

type subscription struct {
	s      *Store
	items  chan item     // filled by pump, in $all order
	closed chan struct{} // closed by Close
	ctx    context.Context
	cancel context.CancelFunc
	once   sync.Once
	pos    atomic.Uint64

	mu  sync.Mutex
	err error // the error that ended the subscription, once Next has seen it
}

func (sub *subscription) Position() eventstore.Position { return eventstore.Position(sub.pos.Load()) }

// Close ends the subscription: Next returns ErrSubscriptionClosed from then on, and the
// goroutine reading from the server ends on its own (it may be inside a node discovery, which
// the client does not let a context cut short).
func (sub *subscription) Close() error {
	sub.once.Do(func() {
		close(sub.closed)
		sub.cancel()
	})
	return nil
}

// Next implements eventstore.Subscription: it waits for one event and returns it with every
// other event already buffered, up to Config.SubscriptionBatch.
func (sub *subscription) Next(ctx context.Context) ([]eventstore.Envelope, error) {
	if err := sub.check(ctx); err != nil {
		return nil, err
	}
	var first item
	select {
	case <-sub.closed:
		return nil, eventstore.ErrSubscriptionClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	case first = <-sub.items:
	}
	if first.err != nil {
		return nil, sub.fail(first.err)
	}
	batch := []eventstore.Envelope{first.env}
	for len(batch) < sub.s.cfg.SubscriptionBatch {
		select {
		case it := <-sub.items:
			if !sub.take(&batch, it) {
				return sub.deliver(batch), nil
			}
		default:
			return sub.deliver(batch), nil
		}
	}
	return sub.deliver(batch), nil
}

// take adds it to batch, or keeps the error it carries for the next call (the events before
// it are delivered first) and returns false.
func (sub *subscription) take(batch *[]eventstore.Envelope, it item) bool {
	if it.err != nil {
		_ = sub.fail(it.err)
		return false
	}
	*batch = append(*batch, it.env)
	return true
}

func (sub *subscription) check(ctx context.Context) error {
	select {
	case <-sub.closed:
		return eventstore.ErrSubscriptionClosed
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	sub.mu.Lock()
	defer sub.mu.Unlock()
	return sub.err
}

func (sub *subscription) fail(err error) error {
	sub.mu.Lock()
	defer sub.mu.Unlock()
	sub.err = err
	return err
}

func (sub *subscription) deliver(batch []eventstore.Envelope) []eventstore.Envelope {
	sub.pos.Store(uint64(batch[len(batch)-1].Position))
	return batch
}

// open subscribes to $all after last (nil: from the start).
func (sub *subscription) open(last *esdb.Position) (*esdb.Subscription, error) {
	const op = "subscribe all"
	cl, err := sub.s.clientFor(op)
	if err != nil {
		return nil, err
	}
	var from esdb.AllPosition = esdb.Start{}
	if last != nil {
		from = *last
	}
	filter := systemStreamFilter
	inner, err := cl.SubscribeToAll(sub.ctx, esdb.SubscribeToAllOptions{From: from, Filter: &filter})
	if err != nil {
		return nil, sub.s.fail(sub.ctx, op, cl, err)
	}
	return inner, nil
}

// pump forwards inner's events to items until the subscription is closed, re-subscribing after
// the last event it forwarded when the server or network drops it.
func (sub *subscription) pump(inner *esdb.Subscription, last *esdb.Position) {
	failures := 0
	for {
		var err error
		if inner == nil {
			inner, err = sub.open(last)
		}
		if inner != nil {
			var progressed bool
			last, progressed, err = sub.forward(inner, last)
			_ = inner.Close()
			inner = nil
			if progressed {
				failures = 0
			}
		}
		if sub.ctx.Err() != nil {
			return
		}
		failures++
		if !retryable(err) || failures > sub.s.cfg.ResubscribeAttempts {
			sub.send(item{err: err})
			return
		}
		sub.s.cfg.Logger.Warn().Err(err).Int("attempt", failures).Msg("kurrentdb $all subscription dropped; re-subscribing")
		if !sub.sleep(backoff(failures)) {
			return
		}
	}
}

// forward reads inner until it drops, sending every event that is not KurrentDB's own and lies
// after last. It returns the new last position and whether any event arrived.
func (sub *subscription) forward(inner *esdb.Subscription, last *esdb.Position) (*esdb.Position, bool, error) {
	progressed := false
	for {
		ev := inner.Recv()
		switch {
		case ev.SubscriptionDropped != nil:
			return last, progressed, classify(sub.ctx, "subscribe all", ev.SubscriptionDropped.Error)
		case ev.EventAppeared == nil:
			continue // checkpoints, caught up, fell behind: nothing to deliver
		}
		rec := ev.EventAppeared.OriginalEvent()
		if last != nil && comparePositions(rec.Position, *last) <= 0 {
			continue // the server resent the boundary event
		}
		p := rec.Position
		last, progressed = &p, true
		if isSystem(rec) {
			continue
		}
		env, err := decodeEvent(rec)
		if err != nil {
			return last, progressed, fmt.Errorf("subscribe all: %w", err)
		}
		if !sub.send(item{env: env}) {
			return last, progressed, sub.ctx.Err()
		}
	}
}

func (sub *subscription) send(it item) bool {
	select {
	case sub.items <- it:
		return true
	case <-sub.ctx.Done():
		return false
	}
}

// sleep waits d before the next attempt; false when the subscription was closed meanwhile.
// A closed store cuts it short: the next attempt then fails for good and says why.
func (sub *subscription) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-sub.s.closed:
	case <-sub.ctx.Done():
		return false
	}
	return true
}

// retryable reports whether a dropped subscription should be re-established: the node was
// unreachable, not the store closed nor an event that cannot be decoded.
func retryable(err error) bool {
	return errors.Is(err, eventstore.ErrUnavailable) && !errors.Is(err, errStoreClosed)
}

func backoff(attempt int) time.Duration {
	d := firstResubscribeDelay << min(attempt-1, 16)
	return min(d, maxResubscribeDelay)
}
