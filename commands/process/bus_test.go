package process

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSyncBusReportsTheOutcome: Publish returns nil once the handler acked, ErrCommandFailed
// when it nacked, and an error (never nil) when nothing handles the topic, when the
// subscription or the bus closed, or when the message's context ended.
func TestSyncBusReportsTheOutcome(t *testing.T) {
	t.Parallel()
	bus := newSyncBus()
	ctx, cancel := context.WithCancel(context.Background())
	msgs, err := bus.Subscribe(ctx, "t")
	require.NoError(t, err)
	go func() {
		for m := range msgs {
			if string(m.Payload) == "fail" {
				m.Nack()
			} else {
				m.Ack()
			}
		}
	}()
	assert.NoError(t, bus.Publish("t", message.NewMessage("1", []byte("ok"))))
	assert.ErrorIs(t, bus.Publish("t", message.NewMessage("2", []byte("fail"))), ErrCommandFailed)
	assert.ErrorIs(t, bus.Publish("other", message.NewMessage("3", nil)), ErrNoCommandHandler)

	expired, stop := context.WithCancel(context.Background())
	stop()
	m := message.NewMessage("4", nil)
	m.SetContext(expired)
	_, err = bus.Subscribe(context.Background(), "silent") // a handler that never answers
	require.NoError(t, err)
	assert.ErrorIs(t, bus.Publish("silent", m), context.Canceled)

	cancel()
	require.Eventually(t, func() bool {
		return errors.Is(bus.Publish("t", message.NewMessage("5", nil)), ErrBusClosed)
	}, 5*time.Second, 10*time.Millisecond, "an ended subscription is a closed bus, not a missing handler")
	require.NoError(t, bus.Close())
	assert.ErrorIs(t, bus.Publish("silent", message.NewMessage("6", nil)), ErrBusClosed)
	_, err = bus.Subscribe(context.Background(), "t")
	assert.ErrorIs(t, err, ErrBusClosed)
	require.NoError(t, bus.Close(), "closing twice is harmless")
}

// TestSyncBusHandsTheMessageOver: the handler gets the sender's message itself, under the
// sender's context.
func TestSyncBusHandsTheMessageOver(t *testing.T) {
	t.Parallel()
	bus := newSyncBus()
	defer bus.Close()
	msgs, err := bus.Subscribe(context.Background(), "t")
	require.NoError(t, err)
	type key struct{}
	got := make(chan any, 1)
	go func() {
		m := <-msgs
		got <- m.Context().Value(key{})
		m.Ack()
	}()
	m := message.NewMessage("1", nil)
	m.SetContext(context.WithValue(context.Background(), key{}, "sender"))
	require.NoError(t, bus.Publish("t", m))
	assert.Equal(t, "sender", <-got)
}
