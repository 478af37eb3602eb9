package forwarder

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	wmamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/dotmac/ledger/integration"
)

// amqpDialer publishes to a durable topic exchange through watermill-amqp with publisher
// confirms: the routing key is the topic, the message persistent, its message-id the event id
// (also in the _watermill_message_uuid header). RabbitMQ drops what no queue is bound to:
// bind a durable queue (e.g. to "<prefix>.#") before events flow.
func amqpDialer(uri, exchange string) Dialer {
	return func(ctx context.Context) (Publisher, error) {
		cfg := wmamqp.NewDurableTopicConfig(uri, exchange, "")
		cfg.Exchange.Durable = true
		cfg.Publish.ConfirmDelivery = true
		cfg.Publish.ChannelPoolSize = 1
		cfg.Marshaler = wmamqp.DefaultMarshaler{PostprocessPublishing: func(p amqp.Publishing) amqp.Publishing {
			if id, ok := p.Headers[wmamqp.DefaultMessageUUIDHeaderKey].(string); ok {
				p.MessageId = id
			}
			p.ContentType = integration.ContentType
			return p
		}}
		pub, err := wmamqp.NewPublisher(cfg, watermill.NopLogger{})
		if err != nil {
			return nil, fmt.Errorf("connect to AMQP: %w", err)
		}
		return watermillPublisher{pub}, nil
	}
}
