// Package forwarder publishes the ledger's integration events (package integration) to a
// message broker: NATS JetStream, Redis Streams or AMQP (RabbitMQ), through Watermill's
// publishers.
//
// A Forwarder is a feed consumer (eventstore/consumer) named integration.forwarder.<kind>:
// it reads the global feed after its checkpoint, one page per transaction, publishes each
// event in feed order and waits for the broker's acknowledgement of each before the next; the
// checkpoint advances in the page's transaction, after every event of the page was
// acknowledged. So delivery is at least once and in feed order (hence in order per subject
// and per topic): a crash or a failed publish rolls the page back and its events are published
// again, with the same message id (the event id), which JetStream drops as a duplicate
// (Nats-Msg-Id) and other consumers deduplicate on. Only the process holding the consumer's
// lease forwards; others stand by.
//
// While the broker fails, the forwarder backs off exponentially (MinBackoff doubling up to
// MaxBackoff), counts the errors, shows its lag (events after its checkpoint) in
// dotmac_forwarder_lag_events and fails Ready, then catches up from its checkpoint.
package forwarder

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/integration"
	"github.com/dotmac/ledger/internal/wait"
)

// Defaults of Config.
const (
	DefaultPageEvents  = 500
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultLagInterval = time.Second
)

// Config tunes a Forwarder. Zero values take the defaults.
type Config struct {
	// Name is the consumer's name after "integration.forwarder." and the metrics' sink label
	// (default the target's kind).
	Name string
	// Prefix starts every topic (default DefaultPrefix).
	Prefix string
	// PageEvents is the most events published per checkpoint transaction (default
	// DefaultPageEvents).
	PageEvents int
	// MinBackoff and MaxBackoff bound the pause after a failure: it doubles from MinBackoff
	// with each failure in a row, up to MaxBackoff.
	MinBackoff, MaxBackoff time.Duration
	// LagInterval is how often the lag gauge is refreshed (default DefaultLagInterval).
	LagInterval time.Duration
	Lease       consumer.LeaseConfig
	// Registerer takes the metrics (nil: not registered).
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.Prefix == "" {
		c.Prefix = DefaultPrefix
	}
	if c.PageEvents <= 0 {
		c.PageEvents = DefaultPageEvents
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(c.MinBackoff, DefaultMaxBackoff)
	}
	if c.LagInterval <= 0 {
		c.LagInterval = DefaultLagInterval
	}
}

// Topic is the topic (NATS subject, Redis stream key, AMQP routing key) of an event:
// <prefix>.<tenant>.<public type>, e.g. dotmac.demo.billing.invoice_issued. Tenant ids are
// a-z 0-9 _ -, so they never add a separator.
func Topic(prefix string, ev integration.Event) string {
	return prefix + "." + ev.Tenant + "." + ev.Type
}

// Forwarder publishes the feed's integration events to one broker.
type Forwarder struct {
	store eventstore.Store
	dial  Dialer
	cfg   Config
	cons  *consumer.Consumer
	m     metrics

	pubMu sync.Mutex // guards pub
	pub   Publisher

	mu       sync.Mutex // guards the fields below
	lastErr  error
	failedAt time.Time
	failures int
	lag      int64
}

// New returns the forwarder of the feed of store to dial's broker, its checkpoint and lease in
// pool's feed_checkpoints (consumer.MigrationSet).
func New(pool *pgxpool.Pool, store eventstore.Store, dial Dialer, cfg Config) (*Forwarder, error) {
	cfg.setDefaults()
	if dial == nil || cfg.Name == "" {
		return nil, errors.New("invariant: a forwarder needs a dialer and a name")
	}
	f := &Forwarder{store: store, dial: dial, cfg: cfg, m: newMetrics(cfg.Name)}
	cons, err := consumer.New(pool, store, ConsumerName(cfg.Name), f.handle, consumer.Config{
		PageEvents: cfg.PageEvents, Lease: cfg.Lease, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	f.cons = cons
	if cfg.Registerer != nil {
		if err := f.m.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// ConsumerName is the feed consumer (row of feed_checkpoints) of the forwarder named name.
func ConsumerName(name string) string { return "integration.forwarder." + name }

// Position returns the position of the last event forwarded (acknowledged and checkpointed).
func (f *Forwarder) Position(ctx context.Context) (eventstore.Position, error) {
	return f.cons.Position(ctx)
}

// Run forwards until ctx ends, in the one process holding the forwarder's lease (others stand
// by). It returns nil when ctx ends.
func (f *Forwarder) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { f.watchLag(ctx) })
	defer wg.Wait()
	defer f.dropPublisher()
	for ctx.Err() == nil {
		err := f.cons.Lease().Hold(ctx, f.runHeld)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			f.cfg.Logger.Warn().Err(err).Str("forwarder", f.cfg.Name).Msg("forwarder stopped; starting again")
			if wait.Sleep(ctx, f.cfg.MinBackoff) != nil {
				break
			}
		}
	}
	return nil
}

// runHeld forwards while this process holds the lease: it connects, catches up from the checkpoint,
// then waits on a subscription to the feed for the next events and catches up again. A
// failure backs off before the next try.
func (f *Forwarder) runHeld(ctx context.Context) error {
	var sub eventstore.Subscription
	defer func() {
		if sub != nil {
			_ = sub.Close()
		}
	}()
	for ctx.Err() == nil {
		// Connect first, even with nothing to publish: the NATS target creates its stream, and
		// an unreachable broker shows in Ready at once.
		if _, err := f.publisher(ctx); err != nil {
			if wait.Sleep(ctx, f.failed(err)) != nil {
				return nil
			}
			continue
		}
		if err := f.cons.CatchUp(ctx); err != nil {
			if ctx.Err() != nil {
				return nil // stopping, or the lease was lost: Hold says which
			}
			if wait.Sleep(ctx, f.failed(err)) != nil {
				return nil
			}
			continue
		}
		f.succeeded()
		if sub == nil {
			pos, err := f.cons.Position(ctx)
			if err == nil {
				sub, err = f.store.SubscribeAll(ctx, pos)
			}
			if err != nil {
				if wait.Sleep(ctx, f.failed(err)) != nil {
					return nil
				}
				continue
			}
		}
		if _, err := sub.Next(ctx); err != nil && ctx.Err() == nil {
			_ = sub.Close()
			sub = nil
			f.cfg.Logger.Warn().Err(err).Str("forwarder", f.cfg.Name).Msg("forwarder: feed subscription failed; subscribing again")
		}
	}
	return nil
}

// handle publishes a page of the feed, in order, each event acknowledged before the next;
// the consumer advances the checkpoint in tx once it returns nil.
func (f *Forwarder) handle(ctx context.Context, _ pgx.Tx, envs []eventstore.Envelope) error {
	pub, err := f.publisher(ctx)
	if err != nil {
		return err
	}
	for i := range envs {
		env := &envs[i]
		ev, err := integration.FromEnvelope(env)
		if err != nil {
			return err
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("forwarder: encode event %s: %w", ev.ID, err)
		}
		msg := message.NewMessage(ev.ID, payload)
		msg.Metadata.Set("Content-Type", integration.ContentType)
		if err := pub.Publish(ctx, Topic(f.cfg.Prefix, ev), msg); err != nil {
			f.dropPublisher()
			return fmt.Errorf("forwarder %s: publish event %s (position %d): %w", f.cfg.Name, ev.ID, env.Position, err)
		}
		f.m.published.Inc()
		f.m.lastPosition.Set(float64(env.Position))
	}
	return nil
}

// publisher returns the connected publisher, dialing one if there is none.
func (f *Forwarder) publisher(ctx context.Context) (Publisher, error) {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	if f.pub == nil {
		p, err := f.dial(ctx)
		if err != nil {
			return nil, fmt.Errorf("forwarder %s: %w", f.cfg.Name, err)
		}
		f.pub = p
	}
	return f.pub, nil
}

// dropPublisher closes the publisher, so the next page dials a fresh one.
func (f *Forwarder) dropPublisher() {
	f.pubMu.Lock()
	defer f.pubMu.Unlock()
	if f.pub != nil {
		_ = f.pub.Close()
		f.pub = nil
	}
}

// failed records a failed attempt and returns how long to back off.
func (f *Forwarder) failed(err error) time.Duration {
	f.m.errors.Inc()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures == 0 {
		f.failedAt = time.Now()
	}
	f.failures++
	f.lastErr = err
	d := f.cfg.MinBackoff
	for i := 1; i < f.failures && d < f.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, f.cfg.MaxBackoff)
	f.cfg.Logger.Warn().Err(err).Str("forwarder", f.cfg.Name).Int("failures", f.failures).Dur("backoff", d).
		Msg("forwarder: publishing failed; backing off")
	return d
}

func (f *Forwarder) succeeded() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures > 0 {
		f.cfg.Logger.Info().Str("forwarder", f.cfg.Name).Int("failures", f.failures).
			Dur("outage", time.Since(f.failedAt)).Msg("forwarder: publishing again")
	}
	f.failures, f.lastErr = 0, nil
}

// Ready fails while publishing fails (the last attempt failed), naming the error and the lag.
func (f *Forwarder) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lastErr != nil {
		return fmt.Errorf("forwarder %s: %d failures in a row since %s, %d events behind: %w", f.cfg.Name,
			f.failures, f.failedAt.UTC().Format(time.RFC3339), f.lag, f.lastErr)
	}
	return nil
}

// Lag is the number of events after the checkpoint, as last measured.
func (f *Forwarder) Lag() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lag
}

// watchLag refreshes the lag gauge every LagInterval until ctx ends.
func (f *Forwarder) watchLag(ctx context.Context) {
	for {
		head, err := f.store.Head(ctx)
		var pos eventstore.Position
		if err == nil {
			pos, err = f.cons.Position(ctx)
		}
		if err == nil {
			lag := int64(head) - int64(pos) //nolint:gosec // positions fit
			f.m.lag.Set(float64(lag))
			f.mu.Lock()
			f.lag = lag
			f.mu.Unlock()
		}
		if wait.Sleep(ctx, f.cfg.LagInterval) != nil {
			return
		}
	}
}

// metrics are the forwarder's Prometheus series, labelled sink=<name>.
type metrics struct {
	lag, lastPosition prometheus.Gauge
	published, errors prometheus.Counter
}

func newMetrics(name string) metrics {
	labels := prometheus.Labels{"sink": name}
	return metrics{
		lag: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_forwarder_lag_events", ConstLabels: labels,
			Help: "Events of the feed after the forwarder's checkpoint (not yet acknowledged by the broker)."}),
		lastPosition: prometheus.NewGauge(prometheus.GaugeOpts{Name: "dotmac_forwarder_last_published_position", ConstLabels: labels,
			Help: "Global position of the last event the broker acknowledged."}),
		published: prometheus.NewCounter(prometheus.CounterOpts{Name: "dotmac_forwarder_published_total", ConstLabels: labels,
			Help: "Events published and acknowledged (a redelivery after a failure counts again)."}),
		errors: prometheus.NewCounter(prometheus.CounterOpts{Name: "dotmac_forwarder_errors_total", ConstLabels: labels,
			Help: "Failed attempts to publish a page (connection, publish or decoding errors)."}),
	}
}

func (m metrics) register(r prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{m.lag, m.lastPosition, m.published, m.errors} {
		if err := r.Register(c); err != nil {
			return fmt.Errorf("forwarder metrics: %w", err)
		}
	}
	return nil
}
