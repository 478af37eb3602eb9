package forwarder

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// natsDialer connects to NATS, makes sure the JetStream stream holding <prefix>.> exists
// (creating it with the duplicate window when missing) and publishes through watermill-nats
// with JetStream on: each publish waits for the stream's PubAck, and the message UUID (the
// event id) goes as Nats-Msg-Id, so JetStream drops a duplicate within the window.
func natsDialer(url, stream, prefix string, window time.Duration) Dialer {
	return func(ctx context.Context) (Publisher, error) {
		// No reconnects inside the client: a lost connection fails the publish, and the
		// forwarder backs off and dials again, so nothing waits in a client buffer.
		nc, err := nats.Connect(url, nats.Name("dotmac-ledger-forwarder"), nats.NoReconnect(), nats.Timeout(5*time.Second))
		if err != nil {
			return nil, fmt.Errorf("connect to NATS: %w", err)
		}
		if err := ensureStream(nc, stream, prefix, window); err != nil {
			nc.Close()
			return nil, err
		}
		pub, err := wmnats.NewPublisherWithNatsConn(nc, wmnats.PublisherPublishConfig{
			Marshaler: &wmnats.NATSMarshaler{}, SubjectCalculator: wmnats.DefaultSubjectCalculator,
			JetStream: wmnats.JetStreamConfig{TrackMsgId: true},
		}, watermill.NopLogger{})
		if err != nil {
			nc.Close()
			return nil, fmt.Errorf("JetStream publisher: %w", err)
		}
		return watermillPublisher{pub}, nil
	}
}

func ensureStream(nc *nats.Conn, stream, prefix string, window time.Duration) error {
	js, err := nc.JetStream()
	if err != nil {
		return fmt.Errorf("JetStream: %w", err)
	}
	_, err = js.StreamInfo(stream)
	if errors.Is(err, nats.ErrStreamNotFound) {
		_, err = js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{prefix + ".>"}, Duplicates: window,
			Storage: nats.FileStorage, Description: "DotMac Ledger integration events"})
	}
	if err != nil {
		return fmt.Errorf("JetStream stream %s: %w", stream, err)
	}
	return nil
}

// watermillPublisher adapts a Watermill publisher whose Publish returns once the broker
// acknowledged.
type watermillPublisher struct{ p message.Publisher }

func (w watermillPublisher) Publish(ctx context.Context, topic string, msg *message.Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	msg.SetContext(ctx)
	return w.p.Publish(topic, msg)
}

func (w watermillPublisher) Close() error { return w.p.Close() }
