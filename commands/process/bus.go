package process

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Errors of the command transport.
var (
	// ErrCommandFailed: the command's handler returned an error (it was logged there); the
	// command may be sent again.
	ErrCommandFailed = errors.New("process command failed")
	// ErrNoCommandHandler: nothing subscribes to the command's topic.
	ErrNoCommandHandler = errors.New("no handler for process command")
	// ErrBusClosed: the transport is closed.
	ErrBusClosed = errors.New("process command bus closed")
)

// syncBus is the in-process transport of the process managers' CommandBus: a
// message.Publisher and message.Subscriber in one. Publish hands each message to the one
// subscription of its topic and returns only once the handler acked it (nil) or nacked it
// (ErrCommandFailed). It never drops a message silently: with no subscriber, after Close, or
// when the message's context ends, Publish returns an error.
//
// We chose it over Watermill's GoChannel because an event may be acked only after the
// command it caused has taken effect. GoChannel's Publish returns nil when the Pub/Sub is
// closed before the ack and when the topic has no subscriber (the command is lost, yet the
// event would be acked), and it resends a nacked message forever inside Publish (a failure
// never reaches the event handler). Messages are handed over as they are (not copied), so the
// handler runs under the sender's context and its ack reaches the sender.
type syncBus struct {
	mu      sync.RWMutex
	subs    map[string]*busSub
	ended   map[string]bool // topics whose subscription ended (the manager is stopping)
	closed  bool
	closing chan struct{}
	once    sync.Once
}

type busSub struct {
	ch   chan *message.Message
	done chan struct{} // closed when the subscription ends, before ch is closed
}

var (
	_ message.Publisher  = (*syncBus)(nil)
	_ message.Subscriber = (*syncBus)(nil)
)

func newSyncBus() *syncBus {
	return &syncBus{subs: map[string]*busSub{}, ended: map[string]bool{}, closing: make(chan struct{})}
}

// Publish delivers msgs in order, each once its predecessor was acked. It is safe for
// concurrent use; messages of concurrent calls are handled concurrently.
func (b *syncBus) Publish(topic string, msgs ...*message.Message) error {
	for _, msg := range msgs {
		if err := b.publishOne(topic, msg); err != nil {
			return err
		}
	}
	return nil
}

func (b *syncBus) publishOne(topic string, msg *message.Message) error {
	ctx := msg.Context() // read before the hand-over: the router then decorates msg's context
	sub, err := b.handOver(ctx, topic, msg)
	if err != nil {
		return err
	}
	select {
	case <-msg.Acked():
		return nil
	case <-msg.Nacked():
		return fmt.Errorf("%w: %s", ErrCommandFailed, topic)
	case <-sub.done:
		return fmt.Errorf("%w: the handler of %s stopped", ErrBusClosed, topic)
	case <-b.closing:
		return ErrBusClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// handOver sends msg to the subscription of topic; the read lock keeps the channel open
// while sending.
func (b *syncBus) handOver(ctx context.Context, topic string, msg *message.Message) (*busSub, error) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if b.closed {
		return nil, ErrBusClosed
	}
	sub := b.subs[topic]
	if sub == nil && b.ended[topic] {
		return nil, fmt.Errorf("%w: the handler of %s stopped", ErrBusClosed, topic)
	}
	if sub == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoCommandHandler, topic)
	}
	select {
	case sub.ch <- msg:
		return sub, nil
	case <-sub.done:
		return nil, fmt.Errorf("%w: the handler of %s stopped", ErrBusClosed, topic)
	case <-b.closing:
		return nil, ErrBusClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Subscribe starts the one subscription of topic; it ends when ctx ends or the bus closes.
func (b *syncBus) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, ErrBusClosed
	}
	if b.subs[topic] != nil {
		return nil, fmt.Errorf("process command bus: topic %s already has a subscriber", topic)
	}
	sub := &busSub{ch: make(chan *message.Message), done: make(chan struct{})}
	b.subs[topic] = sub
	delete(b.ended, topic)
	go func() {
		select {
		case <-ctx.Done():
		case <-b.closing:
		}
		close(sub.done) // senders blocked on this subscription give up and release the lock
		b.mu.Lock()
		if b.subs[topic] == sub {
			delete(b.subs, topic)
			b.ended[topic] = true
		}
		close(sub.ch)
		b.mu.Unlock()
	}()
	return sub.ch, nil
}

// Close ends every subscription; Publish then fails with ErrBusClosed. It is safe to call more
// than once.
func (b *syncBus) Close() error {
	b.once.Do(func() {
		close(b.closing)
		b.mu.Lock()
		b.closed = true
		b.mu.Unlock()
	})
	return nil
}
