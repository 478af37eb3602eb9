package forwarder

import (
	"context"
	"fmt"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill-redisstream/pkg/redisstream"
	"github.com/redis/go-redis/v9"
)

// redisDialer publishes to Redis Streams through watermill-redisstream: one stream per topic
// (XADD <prefix>.<tenant>.<type>), the event id in the entry's _watermill_message_uuid field,
// the CloudEvent in its payload field. XADD's reply is the acknowledgement.
func redisDialer(url string, maxlen int64) Dialer {
	return func(ctx context.Context) (Publisher, error) {
		opts, err := redis.ParseURL(url)
		if err != nil {
			return nil, fmt.Errorf("redis URL: %w", err)
		}
		opts.MaxRetries = -1 // the forwarder retries, with backoff
		client := redis.NewClient(opts)
		if err := client.Ping(ctx).Err(); err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("connect to Redis: %w", err)
		}
		pub, err := redisstream.NewPublisher(redisstream.PublisherConfig{Client: client, DefaultMaxlen: maxlen}, watermill.NopLogger{})
		if err != nil {
			_ = client.Close()
			return nil, fmt.Errorf("redis stream publisher: %w", err)
		}
		return watermillPublisher{pub}, nil
	}
}
