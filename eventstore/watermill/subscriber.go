package watermill

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/wait"
)

// SubscriberConfig tunes a Subscriber. Zero values take the defaults.
type SubscriberConfig struct {
	// ConsumerGroup names the offset a subscription resumes from and advances on every ack.
	// Empty: nothing is stored, and every subscription starts after From.
	ConsumerGroup string
	// Offsets stores the consumer groups' offsets. Required with a ConsumerGroup.
	Offsets OffsetStore
	// From is where a subscription without a consumer group starts: it delivers the events
	// after it (default 0, the beginning of the feed).
	From eventstore.Position
	// BatchEvents is the most events one message carries (default 1). With 1, each message
	// is one event (see MessageFromEnvelope); above 1, messages are batch messages (see
	// BatchMessage) holding the events available at the time, up to this many.
	BatchEvents int
	// Linger, with BatchEvents above 1, is how long the subscription lets events gather after
	// a read of the feed that did not fill a message: it reads again only Linger after that
	// read, so the next message carries what committed meanwhile, and a consumer that pays per
	// message (a statement per batch) pays for fewer of them. A read that filled a message is
	// followed at once, so a subscription catching up is not slowed. Default 0: read again as
	// soon as the last message is acked.
	Linger time.Duration
	// NackResendDelay is the pause before a nacked message is delivered again (default 10 ms).
	NackResendDelay time.Duration
	// RetryDelay is the pause before re-subscribing after the store fails (default 1 s).
	RetryDelay time.Duration
	Logger     zerolog.Logger
}

func (c *SubscriberConfig) setDefaults() {
	if c.BatchEvents <= 0 {
		c.BatchEvents = 1
	}
	if c.NackResendDelay <= 0 {
		c.NackResendDelay = 10 * time.Millisecond
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
}

// Validate reports a configuration that cannot work.
func (c *SubscriberConfig) Validate() error {
	if c.ConsumerGroup != "" && c.Offsets == nil {
		return errors.New("watermill subscriber: a consumer group needs an OffsetStore")
	}
	if c.BatchEvents > MaxBatchEvents {
		return fmt.Errorf("watermill subscriber: BatchEvents %d is over the limit %d", c.BatchEvents, MaxBatchEvents)
	}
	return nil
}

// Subscriber delivers the event store's global feed as Watermill messages, in global order,
// one message at a time: the next message is sent only after the previous one is acked; a
// nacked message is sent again (after NackResendDelay) until it is acked. Delivery is
// at-least-once: with a consumer group the offset is saved after each ack, so a crash between
// the ack and the save delivers that message again.
//
// Topics: TopicAll is the whole feed; any other topic is a stream id, and the subscription
// delivers that stream's events (it reads the global feed and filters, so it suits few or
// short-lived stream subscriptions; the projectors use TopicAll).
type Subscriber struct {
	store eventstore.Store
	cfg   SubscriberConfig

	mu       sync.Mutex
	closed   bool
	closing  context.Context // done once Close is called
	closeAll context.CancelFunc
	wg       sync.WaitGroup
}

var _ message.Subscriber = (*Subscriber)(nil)

// NewSubscriber returns a Subscriber over store. It does not own store.
func NewSubscriber(store eventstore.Store, cfg SubscriberConfig) (*Subscriber, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	closing, closeAll := context.WithCancel(context.Background())
	return &Subscriber{store: store, cfg: cfg, closing: closing, closeAll: closeAll}, nil
}

// Subscribe starts a subscription to topic. The channel is closed when ctx ends or the
// Subscriber is closed.
func (s *Subscriber) Subscribe(ctx context.Context, topic string) (<-chan *message.Message, error) {
	if topic != TopicAll {
		if err := eventstore.ValidateStreamID(topic); err != nil {
			return nil, fmt.Errorf("subscribe: topic: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("subscribe: subscriber %w", ErrClosed)
	}
	from := s.cfg.From
	if s.cfg.ConsumerGroup != "" {
		pos, err := s.cfg.Offsets.Load(ctx, s.cfg.ConsumerGroup, topic)
		if err != nil {
			return nil, fmt.Errorf("subscribe: %w", err)
		}
		from = pos
	}
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.closing, cancel) // Close ends the subscription
	out := make(chan *message.Message)
	sub := &subscription{s: s, topic: topic, pos: from, out: out,
		log: s.cfg.Logger.With().Str("topic", topic).Str("consumer_group", s.cfg.ConsumerGroup).Logger()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer cancel()
		defer stop()
		sub.run(ctx)
	}()
	return out, nil
}

// Close ends every subscription and waits until their channels are closed. It is safe to
// call more than once.
func (s *Subscriber) Close() error {
	s.mu.Lock()
	if !s.closed {
		s.closed = true
		s.closeAll()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// subscription is one Subscribe call's delivery loop.
type subscription struct {
	s     *Subscriber
	topic string
	pos   eventstore.Position // last event read (delivered and acked, or filtered out)
	out   chan *message.Message
	log   zerolog.Logger
}

func (sub *subscription) run(ctx context.Context) {
	defer close(sub.out)
	var feed eventstore.Subscription
	defer func() {
		if feed != nil {
			_ = feed.Close()
		}
	}()
	for ctx.Err() == nil {
		if feed == nil {
			f, err := sub.s.store.SubscribeAll(ctx, sub.pos)
			if err != nil {
				sub.pause(ctx, err)
				continue
			}
			feed = f
		}
		envs, err := feed.Next(ctx)
		if err != nil {
			_ = feed.Close()
			feed = nil
			sub.pause(ctx, err)
			continue
		}
		readAt := time.Now()
		if !sub.deliverAll(ctx, envs) {
			return
		}
		if sub.s.cfg.Linger > 0 && sub.s.cfg.BatchEvents > 1 && len(envs) < sub.s.cfg.BatchEvents {
			if wait.Sleep(ctx, sub.s.cfg.Linger-time.Since(readAt)) != nil {
				return
			}
		}
	}
}

func (sub *subscription) pause(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	sub.log.Warn().Err(err).Dur("retry_in", sub.s.cfg.RetryDelay).Msg("watermill subscriber: reading the feed failed")
	_ = wait.Sleep(ctx, sub.s.cfg.RetryDelay)
}

// deliverAll delivers the events of envs that belong to the topic, in messages of up to
// BatchEvents events. It returns false when ctx ended.
func (sub *subscription) deliverAll(ctx context.Context, envs []eventstore.Envelope) bool {
	if sub.topic != TopicAll {
		envs = filterStream(envs, sub.topic)
	}
	batch := sub.s.cfg.BatchEvents
	for len(envs) > 0 {
		n := min(batch, len(envs))
		if !sub.deliver(ctx, envs[:n], n < len(envs)) {
			return false
		}
		envs = envs[n:]
	}
	return true
}

func filterStream(envs []eventstore.Envelope, stream string) []eventstore.Envelope {
	out := envs[:0:0]
	for i := range envs {
		if envs[i].StreamID == stream {
			out = append(out, envs[i])
		}
	}
	return out
}

// deliver sends one message for envs until it is acked (more: events read with them follow,
// see MoreFollows). It returns false when ctx ended.
func (sub *subscription) deliver(ctx context.Context, envs []eventstore.Envelope, more bool) bool {
	last := envs[len(envs)-1].Position
	for {
		msg, err := sub.message(envs)
		if err != nil {
			// A stored event this package wrote but cannot read back: a bug, not a reason to skip.
			sub.log.Error().Err(err).Msg("invariant: watermill subscriber cannot build a message; retrying")
			if wait.Sleep(ctx, sub.s.cfg.RetryDelay) != nil {
				return false
			}
			continue
		}
		msgCtx, cancel := context.WithCancel(ctx)
		if IsBatch(msg) {
			msgCtx = withEnvelopes(msgCtx, envs)
		}
		if more {
			msgCtx = context.WithValue(msgCtx, moreKey{}, true)
		}
		msg.SetContext(msgCtx)
		acked, ok := sub.send(ctx, msg)
		cancel()
		if !ok {
			return false
		}
		if acked {
			sub.pos = last
			sub.saveOffset(ctx, last)
			return true
		}
		if wait.Sleep(ctx, sub.s.cfg.NackResendDelay) != nil {
			return false
		}
	}
}

func (sub *subscription) message(envs []eventstore.Envelope) (*message.Message, error) {
	if sub.s.cfg.BatchEvents == 1 {
		return MessageFromEnvelope(&envs[0])
	}
	// The events travel in the message's context (see Envelopes), not in a payload.
	return batchMessage(envs, nil), nil
}

// send hands msg over and waits for its ack (true) or nack (false); ok is false when ctx ended.
func (sub *subscription) send(ctx context.Context, msg *message.Message) (acked, ok bool) {
	select {
	case sub.out <- msg:
	case <-ctx.Done():
		return false, false
	}
	select {
	case <-msg.Acked():
		return true, true
	case <-msg.Nacked():
		return false, true
	case <-ctx.Done():
		// An ack that came with the end (a handler acking just before its process stops) still
		// counts: its offset is saved, so the next holder of the group does not deliver the
		// message again.
		select {
		case <-msg.Acked():
			return true, true
		default:
			return false, false
		}
	}
}

// offsetSaveTimeout bounds the saving of one offset.
const offsetSaveTimeout = 5 * time.Second

func (sub *subscription) saveOffset(ctx context.Context, pos eventstore.Position) {
	if sub.s.cfg.ConsumerGroup == "" {
		return
	}
	// An acked message's offset is saved even when the subscription is ending (Close racing
	// the ack, or an ack that came with the end): otherwise the next holder of the group
	// delivers it again. The save is bounded so that a database outage cannot hold Close.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), offsetSaveTimeout)
	defer cancel()
	if err := sub.s.cfg.Offsets.Save(ctx, sub.s.cfg.ConsumerGroup, sub.topic, pos); err != nil {
		// The next ack saves a later offset; until then a restart redelivers (at-least-once).
		sub.log.Warn().Err(err).Msg("watermill subscriber: saving the offset failed")
	}
}
