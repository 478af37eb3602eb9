package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/pglisten"
)

// pollWhileDeaf is how often subscriptions re-read while the listener is reconnecting, the
// only time they poll: while LISTEN is up, only a NOTIFY (sent by every append transaction
// on commit) or a reconnect wakes them.
const pollWhileDeaf = time.Second

// SubscribeAll implements eventstore.Store.
func (s *Store) SubscribeAll(ctx context.Context, after eventstore.Position) (eventstore.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.hub.Start()
	sub := &subscription{s: s, closed: make(chan struct{})}
	sub.pos.Store(uint64(after))
	return sub, nil
}

type subscription struct {
	s         *Store
	pos       atomic.Uint64
	closed    chan struct{}
	closeOnce sync.Once
}

func (sub *subscription) Position() eventstore.Position { return eventstore.Position(sub.pos.Load()) }

func (sub *subscription) Close() error {
	sub.closeOnce.Do(func() { close(sub.closed) })
	return nil
}

// Next implements eventstore.Subscription. It takes the hub's wake channel before reading, so
// a commit that lands between the read and the wait still wakes it. It reads through the
// store's tail (see tail): the subscriptions at the feed's end share one query per commit.
func (sub *subscription) Next(ctx context.Context) ([]eventstore.Envelope, error) {
	for {
		select {
		case <-sub.closed:
			return nil, eventstore.ErrSubscriptionClosed
		default:
		}
		wake, _, listening := sub.s.hub.Snapshot()
		events, err := sub.s.tail.read(ctx, sub.Position(), sub.s.cfg.SubscriptionBatch, wake, listening, sub.s.wakeChannel, sub.s.readAll)
		if err != nil {
			return nil, err
		}
		if len(events) > 0 {
			sub.pos.Store(uint64(events[len(events)-1].Position))
			return events, nil
		}
		if err := sub.wait(ctx, wake, listening); err != nil {
			return nil, err
		}
	}
}

// wait waits for a wake-up, ending early with ErrSubscriptionClosed when the subscription is
// closed.
func (sub *subscription) wait(ctx context.Context, wake <-chan struct{}, listening bool) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sub.closed:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := pglisten.Wait(ctx, wake, listening, pollWhileDeaf)
	select {
	case <-sub.closed:
		return eventstore.ErrSubscriptionClosed
	default:
		return err
	}
}

// wakeChannel is the channel the listener's next notification closes.
func (s *Store) wakeChannel() <-chan struct{} {
	wake, _, _ := s.hub.Snapshot()
	return wake
}
