package forwarder

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
)

// Publisher sends one message to a broker and returns once the broker has acknowledged it
// (a JetStream PubAck, Redis's XADD reply, an AMQP publisher confirm).
type Publisher interface {
	Publish(ctx context.Context, topic string, msg *message.Message) error
	Close() error
}

// Dialer connects a Publisher. The forwarder dials lazily, and again after a publish fails.
type Dialer func(ctx context.Context) (Publisher, error)

// Target is a parsed --forward-to URL.
type Target struct {
	// Kind is "nats", "redis" or "amqp"; it names the forwarder's checkpoint
	// (integration.forwarder.<kind>) and labels its metrics.
	Kind string
	// Prefix starts every topic: <prefix>.<tenant>.<public type>.
	Prefix string
	// Redacted is the URL without its password, for logs.
	Redacted string
	// Dial connects a publisher to the target.
	Dial Dialer
}

// DefaultPrefix starts every topic unless the URL's prefix parameter says otherwise.
const DefaultPrefix = "dotmac"

// DefaultStream is the JetStream stream the NATS target publishes into (subjects
// <prefix>.>), created when missing.
const DefaultStream = "DOTMAC"

// DefaultDuplicateWindow is how long JetStream remembers a message id to drop a duplicate,
// for the streams the forwarder creates.
const DefaultDuplicateWindow = 10 * time.Minute

var prefixPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$`)

// ParseTarget reads a --forward-to URL:
//
//	nats://[user:pass@]host:4222[?stream=DOTMAC&prefix=dotmac&duplicates=10m]
//	redis://[user:pass@]host:6379[/db][?prefix=dotmac&maxlen=0]
//	amqp://user:pass@host:5672/[vhost][?exchange=dotmac&prefix=dotmac]
//
// Parameters it does not know are refused, naming them.
func ParseTarget(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("--forward-to: %w", err)
	}
	q := u.Query()
	u.RawQuery = ""
	t := Target{Kind: u.Scheme, Prefix: DefaultPrefix, Redacted: u.Redacted()}
	if p := q.Get("prefix"); p != "" {
		if !prefixPattern.MatchString(p) {
			return Target{}, fmt.Errorf("--forward-to: prefix %q: want dot-separated words of A-Z a-z 0-9 _ -", p)
		}
		t.Prefix = p
	}
	q.Del("prefix")
	take := func(name, def string) string {
		v := q.Get(name)
		q.Del(name)
		if v == "" {
			return def
		}
		return v
	}
	switch u.Scheme {
	case "nats":
		stream := take("stream", DefaultStream)
		window, err := time.ParseDuration(take("duplicates", DefaultDuplicateWindow.String()))
		if err != nil || window <= 0 {
			return Target{}, fmt.Errorf("--forward-to: duplicates: want a positive duration like 10m")
		}
		t.Dial = natsDialer(u.String(), stream, t.Prefix, window)
	case "redis", "rediss":
		t.Kind = "redis"
		maxlen, err := strconv.ParseInt(take("maxlen", "0"), 10, 64)
		if err != nil || maxlen < 0 {
			return Target{}, errors.New("--forward-to: maxlen: want a whole number, 0 for unlimited")
		}
		t.Dial = redisDialer(u.String(), maxlen)
	case "amqp", "amqps":
		t.Kind = "amqp"
		t.Dial = amqpDialer(u.String(), take("exchange", t.Prefix))
	default:
		return Target{}, fmt.Errorf("--forward-to: scheme %q: want nats://, redis:// or amqp://", u.Scheme)
	}
	if len(q) > 0 {
		var names []string
		for k := range q {
			names = append(names, k)
		}
		return Target{}, fmt.Errorf("--forward-to: unknown parameter(s) %s", strings.Join(names, ", "))
	}
	return t, nil
}
