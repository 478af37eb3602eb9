package consumer

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/internal/wait"
)

// LeasedSubscriber is a Watermill subscriber that delivers only while this process holds a
// lease: each subscription stands by until the lease is free, takes it, and delivers the inner
// subscriber's messages (which start from the group's stored offset) while it keeps the
// lease; when the lease is lost or the subscription ends it flushes the offsets and releases
// the lease, and a subscription still running stands by again. One process at a time thus
// handles a consumer group, and another takes over when it stops (at once, on a release) or
// dies (when its lease runs out).
type LeasedSubscriber struct {
	lease   *Lease
	inner   message.Subscriber
	offsets *Offsets
	log     zerolog.Logger

	wg     sync.WaitGroup
	mu     sync.Mutex
	closed bool
	stop   context.CancelFunc
	life   context.Context
}

var _ message.Subscriber = (*LeasedSubscriber)(nil)

// NewLeasedSubscriber returns inner delivering under lease; offsets (may be nil) is flushed
// whenever delivery stops. The LeasedSubscriber owns inner: Close closes it.
func NewLeasedSubscriber(lease *Lease, inner message.Subscriber, offsets *Offsets, log zerolog.Logger) *LeasedSubscriber {
	life, stop := context.WithCancel(context.Background())
	return &LeasedSubscriber{lease: lease, inner: inner, offsets: offsets, log: log, life: life, stop: stop}
}

// Subscribe implements message.Subscriber. The channel is closed when ctx ends or the
// subscriber is closed.
func (s *LeasedSubscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, errors.New("leased subscriber: closed")
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.life, cancel)
	out := make(chan *message.Message)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(out)
		defer stop()
		defer cancel()
		for ctx.Err() == nil {
			err := s.lease.Hold(ctx, func(held context.Context) error { return s.deliver(held, topic, out) })
			if err != nil && ctx.Err() == nil {
				s.log.Warn().Err(err).Str("lease", s.lease.name).Msg("leased subscriber: delivery stopped; standing by")
				_ = wait.Sleep(ctx, s.lease.cfg.Poll)
			}
		}
	}()
	return out, nil
}

// deliver forwards the inner subscription's messages to out while held lasts, then waits
// for the last one handed over to be settled and flushes the offsets.
func (s *LeasedSubscriber) deliver(held context.Context, topic string, out chan<- *message.Message) error {
	defer s.flush(held)
	msgs, err := s.inner.Subscribe(held, topic)
	if err != nil {
		return err
	}
	var last *message.Message
	for msg := range msgs {
		if held.Err() != nil {
			continue // unacked: the next holder delivers it again
		}
		select {
		case out <- msg:
			last = msg
		case <-held.Done():
		}
	}
	s.settle(last)
	return nil
}

// settle waits until msg (the last message handed over; nil: none) is acked or nacked, for
// at most the lease's TTL. The inner subscription ends without waiting for it, and the lease
// is released when deliver returns: another process would then deliver the message again
// while this one's handler is still at work on it. Past the TTL the lease would have run out
// anyway.
func (s *LeasedSubscriber) settle(msg *message.Message) {
	if msg == nil {
		return
	}
	t := time.NewTimer(s.lease.cfg.TTL)
	defer t.Stop()
	select {
	case <-msg.Acked():
	case <-msg.Nacked():
	case <-t.C:
		s.log.Warn().Str("lease", s.lease.name).Str("message_uuid", msg.UUID).Msg("leased subscriber: a message is still being handled; releasing the lease")
	}
}

func (s *LeasedSubscriber) flush(ctx context.Context) {
	if s.offsets == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := s.offsets.Flush(ctx); err != nil {
		s.log.Warn().Err(err).Str("lease", s.lease.name).Msg("leased subscriber: flushing the offsets")
	}
}

// Close ends every subscription (flushing the offsets and releasing the lease), waits for
// them, and closes the inner subscriber.
func (s *LeasedSubscriber) Close() error {
	s.mu.Lock()
	s.closed = true
	s.stop()
	s.mu.Unlock()
	s.wg.Wait()
	return s.inner.Close()
}
