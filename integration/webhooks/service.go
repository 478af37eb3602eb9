package webhooks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/internal/wait"
)

// Defaults of Config.
const (
	DefaultWorkers     = 32
	DefaultPerEndpoint = 4
	DefaultTimeout     = 10 * time.Second
	DefaultMinBackoff  = 10 * time.Second
	DefaultMaxBackoff  = 2 * time.Hour
	DefaultMaxAge      = 24 * time.Hour
	DefaultPoll        = time.Second
	DefaultPageEvents  = 500
	// DefaultFanoutLinger is Config.FanoutLinger's default: a delivery is queued at most this
	// much later than without it, and a busy feed costs the fan-out at most about ten
	// transactions a second instead of one per append.
	DefaultFanoutLinger = 100 * time.Millisecond
	DefaultLagInterval  = 5 * time.Second
	DefaultRetention    = 30 * 24 * time.Hour
	purgeInterval       = time.Hour
	purgeBatch          = 10_000
)

// Config tunes a Service. Zero values take the defaults.
type Config struct {
	// Guard decides which URLs and addresses endpoints may have (zero: production rules).
	Guard Guard
	// Workers bounds the deliveries attempted at once by this process; PerEndpoint bounds
	// those of one endpoint across every process, so a slow endpoint holds at most
	// PerEndpoint workers.
	Workers, PerEndpoint int
	// Timeout bounds one attempt: connecting, sending and receiving the answer's header.
	Timeout time.Duration
	// MinBackoff and MaxBackoff bound the pause before the next attempt: MinBackoff doubling
	// with each failed attempt, up to MaxBackoff, then a random part of its second half
	// taken off (jitter). MaxAge is how long a delivery is tried before it is marked failed.
	MinBackoff, MaxBackoff, MaxAge time.Duration
	// Poll is how often the dispatcher looks for due retries (a new delivery wakes it at
	// once, through LISTEN).
	Poll time.Duration
	// PageEvents is the most events one fan-out transaction reads.
	PageEvents int
	// FanoutLinger is how long the fan-out lets the feed's events gather after a read that
	// did not fill a page (consumer.Config.Linger).
	FanoutLinger time.Duration
	// LagInterval is how often the lag gauges are refreshed.
	LagInterval time.Duration
	// Retention is how long delivered and failed deliveries (with their payloads and
	// attempts) stay in the log; pending ones stay until they end.
	Retention  time.Duration
	Lease      consumer.LeaseConfig
	Registerer prometheus.Registerer
	Logger     zerolog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (c *Config) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defD := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Workers, DefaultWorkers)
	def(&c.PerEndpoint, DefaultPerEndpoint)
	def(&c.PageEvents, DefaultPageEvents)
	defD(&c.Timeout, DefaultTimeout)
	defD(&c.FanoutLinger, DefaultFanoutLinger)
	defD(&c.MinBackoff, DefaultMinBackoff)
	defD(&c.MaxBackoff, DefaultMaxBackoff)
	defD(&c.MaxAge, DefaultMaxAge)
	defD(&c.Poll, DefaultPoll)
	defD(&c.LagInterval, DefaultLagInterval)
	defD(&c.Retention, DefaultRetention)
	c.MaxBackoff = max(c.MaxBackoff, c.MinBackoff)
	if c.Now == nil {
		c.Now = time.Now
	}
}

// Service is the webhooks of every tenant: the endpoints (Store), the fan-out of the feed
// into the outbox and the dispatcher (Run), replays, and the HTTP routes (http.go).
type Service struct {
	pool   *pgxpool.Pool
	events eventstore.Store
	cfg    Config
	store  *Store
	cons   *consumer.Consumer
	client *http.Client
	m      metrics
}

// New returns the service over pool (MigrationSet applied) and the event store.
func New(pool *pgxpool.Pool, events eventstore.Store, cfg Config) (*Service, error) {
	cfg.setDefaults()
	s := &Service{pool: pool, events: events, cfg: cfg, store: NewStore(pool), m: newMetrics()}
	cons, err := consumer.New(pool, events, FanoutConsumer, fanout(cfg.MaxAge, cfg.Now),
		consumer.Config{PageEvents: cfg.PageEvents, Linger: cfg.FanoutLinger, Lease: cfg.Lease, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.cons = cons
	s.client = newClient(cfg.Guard, cfg.Timeout, cfg.PerEndpoint)
	if cfg.Registerer != nil {
		if err := s.m.register(cfg.Registerer); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Store returns the endpoints' and deliveries' tables.
func (s *Service) Store() *Store { return s.store }

// newClient is the HTTP client of deliveries: no proxy from the environment, no redirects
// followed (a 3xx is a failed attempt), every connection's address checked by the guard. It
// keeps as many idle connections per host as attempts may run at once to one endpoint.
func newClient(g Guard, timeout time.Duration, perEndpoint int) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: g.Control}
	tr := &http.Transport{
		Proxy: nil, DialContext: dialer.DialContext, ForceAttemptHTTP2: true,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout,
		MaxIdleConns: 256, MaxIdleConnsPerHost: max(perEndpoint, DefaultPerEndpoint), IdleConnTimeout: 90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Run fans the feed into the outbox (in the one process holding the fan-out's lease) and
// dispatches due deliveries (in every process running it: claims are exclusive), until ctx
// ends. It returns nil when ctx ends.
func (s *Service) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	wg.Go(func() { _ = s.cons.Live(ctx) })
	wg.Go(func() { s.watchLag(ctx) })
	wg.Go(func() { s.purgeEvery(ctx) })
	s.dispatch(ctx)
	wg.Wait()
	return nil
}

// FanoutPosition is the position of the last event fanned into the outbox.
func (s *Service) FanoutPosition(ctx context.Context) (eventstore.Position, error) {
	return s.cons.Position(ctx)
}

// backoff is the pause after the attempt-th failed attempt.
func (s *Service) backoff(attempt int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < attempt && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	half := d / 2
	return d - time.Duration(rand.Int64N(int64(half)+1)) //nolint:gosec // jitter needs no cryptographic randomness
}

// CatchUp fans out every event up to the head now, in this process (tests and tools; Run
// does it continuously under the lease).
func (s *Service) CatchUp(ctx context.Context) error { return s.cons.CatchUp(ctx) }

// Purge deletes the delivered and failed deliveries older than Retention (their attempts
// with them), a batch per statement, and returns how many it deleted.
func (s *Service) Purge(ctx context.Context) (int64, error) {
	var total int64
	cutoff := s.cfg.Now().Add(-s.cfg.Retention)
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE seq IN (
  SELECT seq FROM webhook_deliveries WHERE status <> 'pending' AND created_at < $1 LIMIT $2)`, cutoff, purgeBatch)
		if err != nil {
			return total, fmt.Errorf("webhooks: purge: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < purgeBatch {
			return total, nil
		}
	}
}

// purgeEvery purges every hour until ctx ends.
func (s *Service) purgeEvery(ctx context.Context) {
	for wait.Sleep(ctx, purgeInterval) == nil {
		if n, err := s.Purge(ctx); err != nil && ctx.Err() == nil {
			s.cfg.Logger.Warn().Err(err).Msg("webhooks: purging old deliveries failed; trying again in an hour")
		} else if n > 0 {
			s.cfg.Logger.Info().Int64("deliveries", n).Msg("webhooks: purged old deliveries")
		}
	}
}
