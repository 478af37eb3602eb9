// Package pglisten keeps one PostgreSQL LISTEN connection per channel for a process and wakes
// every waiter on each notification: the event store's subscriptions wait for appends this
// way, the projection runtime's waiters for checkpoints. It reconnects with backoff; while it
// is reconnecting, waiters poll instead.
package pglisten

import (
	"context"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"
)

// Listener holds the LISTEN connection of one channel. Create it with New; Start it before
// waiting; Stop it when done.
type Listener struct {
	pool     *pgxpool.Pool
	channel  string
	log      zerolog.Logger
	onNotify func(payload string)

	startOnce sync.Once
	mu        sync.Mutex
	wake      chan struct{}
	gen       uint64 // bumped on each (re)connection: waiters re-read what they wait for
	listening bool
	cancel    context.CancelFunc
	done      chan struct{}
}

// New returns a listener on channel over a dedicated connection made with pool's settings.
// onNotify, if set, sees every payload before the waiters are woken.
func New(pool *pgxpool.Pool, channel string, log zerolog.Logger, onNotify func(payload string)) *Listener {
	return &Listener{pool: pool, channel: channel, log: log, onNotify: onNotify,
		wake: make(chan struct{}), done: make(chan struct{})}
}

// Start starts listening (once; later calls do nothing).
func (l *Listener) Start() {
	l.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		l.mu.Lock()
		l.cancel = cancel
		l.mu.Unlock()
		go l.run(ctx)
	})
}

// Stop stops listening and waits for the connection to close.
func (l *Listener) Stop() {
	l.startOnce.Do(func() { close(l.done) }) // never started: nothing to stop
	l.mu.Lock()
	cancel := l.cancel
	l.mu.Unlock()
	if cancel != nil {
		cancel()
		<-l.done
	}
}

// Snapshot returns the channel the next notification closes, the connection generation, and
// whether the listener is connected. Take it BEFORE reading what you wait for, so that a
// notification arriving in between still wakes you.
func (l *Listener) Snapshot() (wake <-chan struct{}, gen uint64, listening bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.wake, l.gen, l.listening
}

// Wait blocks until wake is closed, ctx ends (its error), or, when not listening, poll has
// passed.
func Wait(ctx context.Context, wake <-chan struct{}, listening bool, poll time.Duration) error {
	var timer <-chan time.Time
	if !listening {
		t := time.NewTimer(poll)
		defer t.Stop()
		timer = t.C
	}
	select {
	case <-wake:
		return nil
	case <-timer:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *Listener) broadcast(connected, listening bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if connected {
		l.gen++
	}
	l.listening = listening
	close(l.wake)
	l.wake = make(chan struct{})
}

func (l *Listener) run(ctx context.Context) {
	defer close(l.done)
	backoff := 100 * time.Millisecond
	for {
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		l.broadcast(false, false)
		l.log.Warn().Err(err).Str("channel", l.channel).Dur("retry_in", backoff).Msg("LISTEN connection lost")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listen holds a dedicated connection (outside the pool) in LISTEN until it fails.
func (l *Listener) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, l.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		return err
	}
	l.broadcast(true, true) // waiters re-read: what committed while deaf is found now
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if l.onNotify != nil {
			l.onNotify(msg.Payload)
		}
		l.broadcast(false, true)
	}
}
