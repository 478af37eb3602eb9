package consumer

import (
	"context"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/dotmac/ledger/eventstore"
	esw "github.com/dotmac/ledger/eventstore/watermill"
	"github.com/dotmac/ledger/internal/wait"
)

// Live keeps the consumer applied until ctx ends, in the one process holding its lease: it
// stands by until it holds the lease, catches up, then applies the feed as it commits through
// a Watermill subscriber started at the checkpoint (a message per batch of up to PageEvents
// events), each batch in one transaction that checks the lease is still this process's. A
// failure while it holds the lease (the database or the subscription) is retried after
// RetryDelay without giving the lease up, so other processes do not take turns on every
// transient error. When the lease is lost it stops applying and stands by again. It returns
// nil when ctx ends.
func (c *Consumer) Live(ctx context.Context) error {
	for ctx.Err() == nil {
		err := c.lease.Hold(ctx, c.runHeldRetrying)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrLeaseLost):
			c.cfg.Logger.Warn().Str("consumer", c.name).Msg("feed consumer: lease lost; standing by")
		case err != nil:
			c.cfg.Logger.Warn().Err(err).Str("consumer", c.name).Msg("feed consumer: live mode failed; retrying")
			_ = wait.Sleep(ctx, c.cfg.RetryDelay)
		}
	}
	return nil
}

// runHeldRetrying runs runHeld until ctx (the lease's) ends or the lease is lost, retrying
// its failures after RetryDelay while the lease is held.
func (c *Consumer) runHeldRetrying(ctx context.Context) error {
	for {
		err := c.runHeld(ctx)
		if ctx.Err() != nil || err == nil || errors.Is(err, ErrLeaseLost) {
			return err
		}
		c.cfg.Logger.Warn().Err(err).Str("consumer", c.name).Msg("feed consumer: live mode failed; retrying while holding the lease")
		if err := wait.Sleep(ctx, c.cfg.RetryDelay); err != nil {
			return nil //nolint:nilerr // the lease's context ended: Hold reports why
		}
	}
}

// runHeld applies the feed while ctx (the lease's) lasts.
func (c *Consumer) runHeld(ctx context.Context) error {
	if err := c.CatchUp(ctx); err != nil {
		return err
	}
	from, err := c.Position(ctx)
	if err != nil {
		return err
	}
	sub, err := esw.NewSubscriber(c.store, esw.SubscriberConfig{From: from, BatchEvents: max(2, c.cfg.PageEvents), // always batch messages
		Linger: c.cfg.Linger, RetryDelay: c.cfg.RetryDelay, Logger: c.cfg.Logger})
	if err != nil {
		return err
	}
	defer func() { _ = sub.Close() }()
	msgs, err := sub.Subscribe(ctx, esw.TopicAll)
	if err != nil {
		return err
	}
	for msg := range msgs {
		if err := c.applyMessage(ctx, msg); err != nil {
			msg.Nack()
			if errors.Is(err, ErrLeaseLost) {
				return err
			}
			c.cfg.Logger.Warn().Err(err).Str("consumer", c.name).Msg("feed consumer: applying a batch failed; retrying")
			if wait.Sleep(ctx, c.cfg.RetryDelay) != nil {
				return nil
			}
			continue
		}
		msg.Ack()
	}
	return nil
}

func (c *Consumer) applyMessage(ctx context.Context, msg *message.Message) error {
	envs, err := messageEnvelopes(msg)
	if err != nil {
		return err
	}
	return c.applyAs(ctx, envs, c.lease.Holder())
}

// messageEnvelopes returns the events a subscriber's message carries.
func messageEnvelopes(msg *message.Message) ([]eventstore.Envelope, error) {
	envs, err := esw.Envelopes(msg)
	if err != nil {
		return nil, fmt.Errorf("invariant: feed consumer: %w", err)
	}
	return envs, nil
}
