package postgres

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
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
	s.hub.start()
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
// a commit that lands between the read and the wait still wakes it.
func (sub *subscription) Next(ctx context.Context) ([]eventstore.Envelope, error) {
	for {
		select {
		case <-sub.closed:
			return nil, eventstore.ErrSubscriptionClosed
		default:
		}
		wake, listening := sub.s.hub.waitChan()
		events, err := sub.s.ReadAll(ctx, sub.Position(), sub.s.cfg.SubscriptionBatch)
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

func (sub *subscription) wait(ctx context.Context, wake <-chan struct{}, listening bool) error {
	var poll <-chan time.Time
	if !listening {
		t := time.NewTimer(pollWhileDeaf)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-wake:
		return nil
	case <-poll:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-sub.closed:
		return eventstore.ErrSubscriptionClosed
	}
}

// hub keeps one LISTEN connection per Store and wakes every subscription on each NOTIFY.
type hub struct {
	s         *Store
	startOnce sync.Once
	mu        sync.Mutex
	wake      chan struct{}
	listening bool
	cancel    context.CancelFunc
	done      chan struct{}
}

func newHub(s *Store) *hub {
	return &hub{s: s, wake: make(chan struct{}), done: make(chan struct{})}
}

func (h *hub) start() {
	h.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		h.mu.Lock()
		h.cancel = cancel
		h.mu.Unlock()
		go h.run(ctx)
	})
}

func (h *hub) stop() {
	h.startOnce.Do(func() { close(h.done) }) // never started: nothing to stop
	h.mu.Lock()
	cancel := h.cancel
	h.mu.Unlock()
	if cancel != nil {
		cancel()
		<-h.done
	}
}

func (h *hub) waitChan() (<-chan struct{}, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.wake, h.listening
}

func (h *hub) broadcast(listening bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	close(h.wake)
	h.wake = make(chan struct{})
	h.listening = listening
}

func (h *hub) run(ctx context.Context) {
	defer close(h.done)
	backoff := 100 * time.Millisecond
	for {
		err := h.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		h.broadcast(false)
		h.s.cfg.Logger.Warn().Err(err).Dur("retry_in", backoff).Msg("event store listener lost its connection")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listen holds a dedicated connection (outside the pool) in LISTEN until it fails.
func (h *hub) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, h.s.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+quoteIdent(h.s.channel)); err != nil {
		return err
	}
	h.broadcast(true) // subscriptions re-read: commits made while deaf are found now
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		h.broadcast(true)
	}
}
