package watermill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/dotmac/ledger/eventstore"
)

// PublisherConfig tunes a Publisher. Zero values take the defaults.
type PublisherConfig struct {
	// Timeout bounds one Publish call (default 30 s).
	Timeout time.Duration
}

func (c *PublisherConfig) setDefaults() {
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
}

// Publisher appends messages to the event store: the topic is the stream id, the message
// UUID names the event (so publishing a message to a topic again stores nothing new), the
// payload is the event data and the metadata the event metadata (see EventFromMessage).
type Publisher struct {
	store eventstore.Store
	cfg   PublisherConfig

	mu     sync.RWMutex
	closed bool
}

var _ message.Publisher = (*Publisher)(nil)

// ErrClosed is returned by Publish after Close and by Subscribe after Close.
var ErrClosed = errors.New("closed")

// NewPublisher returns a Publisher appending to store. It does not own store.
func NewPublisher(store eventstore.Store, cfg PublisherConfig) *Publisher {
	cfg.setDefaults()
	return &Publisher{store: store, cfg: cfg}
}

// Publish appends msgs to the stream named topic, in order, with no expected version. Up to
// eventstore.MaxEventsPerAppend messages are appended atomically; longer lists go in several
// appends. Publish is safe for concurrent use.
func (p *Publisher) Publish(topic string, msgs ...*message.Message) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return fmt.Errorf("publish: publisher %w", ErrClosed)
	}
	if topic == TopicAll {
		return fmt.Errorf("publish: %w: topic %s is the whole feed, publish to a stream", ErrNotEncodable, TopicAll)
	}
	ctx, cancel := context.WithTimeout(context.Background(), p.cfg.Timeout)
	defer cancel()
	for len(msgs) > 0 {
		n := min(len(msgs), eventstore.MaxEventsPerAppend)
		if err := p.append(ctx, topic, msgs[:n]); err != nil {
			return err
		}
		msgs = msgs[n:]
	}
	return nil
}

func (p *Publisher) append(ctx context.Context, topic string, msgs []*message.Message) error {
	events := make([]eventstore.EventData, len(msgs))
	for i, m := range msgs {
		e, err := EventFromMessage(topic, m)
		if err != nil {
			return fmt.Errorf("publish to %q: %w", topic, err)
		}
		events[i] = e
	}
	_, err := p.store.Append(ctx, topic, eventstore.Any(), events...)
	if errors.Is(err, eventstore.ErrDuplicateEventID) && len(events) > 1 {
		// Some of these messages were published before, in another grouping: publish one by
		// one, so each is stored once.
		for i := range events {
			if _, err := p.store.Append(ctx, topic, eventstore.Any(), events[i]); err != nil {
				return fmt.Errorf("publish to %q: %w", topic, err)
			}
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("publish to %q: %w", topic, err)
	}
	return nil
}

// Close makes further Publish calls fail. It waits for Publish calls in flight. It does not
// close the store.
func (p *Publisher) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}
