package process

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	wmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	esw "github.com/dotmac/ledger/eventstore/watermill"
	"github.com/dotmac/ledger/internal/migrate"
)

// Defaults of Config.
const (
	// DefaultTickInterval is how often the scheduler marks overdue invoices and sweeps dunning.
	DefaultTickInterval = time.Hour
	// DefaultResumeAfter is how long an unfinished billing run must have made no progress
	// before the billing manager resumes it.
	DefaultResumeAfter = 30 * time.Second
	// DefaultNackResendDelay is the pause before an event whose handling failed is handled again.
	DefaultNackResendDelay = time.Second
	// routerCloseTimeout bounds how long the router's Close waits for its handlers; Stop then
	// goes on waiting for those still running (handlerWork).
	routerCloseTimeout = 30 * time.Second
	// Consumer groups (and router handler names) of the event handler groups.
	groupBilling = "process.billing"
	groupDunning = "process.dunning"
	// groupScheduler is the lease of the scheduler: one process ticks at a time.
	groupScheduler = "process.scheduler"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// offsetFlushEvery bounds how often a consumer group's offset is written (see
// consumer.OffsetsConfig.FlushEvery): redelivery after a crash grows to the last
// offsetFlushEvery of acks, which the managers' exactly-once commands absorb.
const offsetFlushEvery = 500 * time.Millisecond

// MigrationSet is the schema of the Tracker (tables proc_*), for internal/migrate. It
// requires the feed consumers' (the tracker's checkpoint and the groups' offsets and leases
// are in feed_checkpoints).
func MigrationSet() migrate.Set {
	s := migrate.Embedded("process", "proc_schema_migrations", migrationFiles)
	s.Requires = []migrate.Set{consumer.MigrationSet()}
	return s
}

// Config configures the process managers. Handlers, Store and Pool are required.
type Config struct {
	Handlers *commands.Handlers
	// Store is the event store whose feed the managers read.
	Store eventstore.Store
	// Pool holds the tracker's tables (MigrationSet) and the consumer groups' offsets and
	// leases (feed_checkpoints).
	Pool *pgxpool.Pool
	// Lease tunes the consumer groups' leases: one process at a time handles each group
	// (process.billing, process.dunning), another takes over when it stops or its lease
	// runs out.
	Lease      consumer.LeaseConfig
	Logger     zerolog.Logger
	Registerer prometheus.Registerer // router metrics (nil: none)
	// Now is the business clock the managers decide at (default time.Now).
	Now func() time.Time
	// GraceDays is the dunning grace period, 0 to 365, used as given (the flag defaults to
	// DefaultGraceDays).
	GraceDays int
	// TickInterval is the scheduler's period (default DefaultTickInterval). It ticks on
	// Start too.
	TickInterval time.Duration
	// BillingSchedule makes the scheduler start each tenant's billing run of the current
	// month when it is not started yet (on the month's first tick).
	BillingSchedule bool
	// DueDays is the payment term of scheduled and resumed runs (default commands.DefaultDueDays).
	DueDays int
	// ResumeAfter is how long an unfinished run must be idle before the billing manager
	// resumes it (default DefaultResumeAfter; negative: at once).
	ResumeAfter time.Duration
	// NackResendDelay is the pause before a failed event is handled again (default
	// DefaultNackResendDelay).
	NackResendDelay time.Duration

	closeTimeout time.Duration       // the router's CloseTimeout (default routerCloseTimeout; tests shorten it)
	beforeSend   func(cmd any) error // called before each command is sent; an error fails the send (tests)
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.TickInterval <= 0 {
		c.TickInterval = DefaultTickInterval
	}
	if c.DueDays == 0 {
		c.DueDays = commands.DefaultDueDays
	}
	if c.ResumeAfter == 0 {
		c.ResumeAfter = DefaultResumeAfter
	}
	if c.NackResendDelay <= 0 {
		c.NackResendDelay = DefaultNackResendDelay
	}
	if c.closeTimeout <= 0 {
		c.closeTimeout = routerCloseTimeout
	}
}

// Validate reports a missing or out-of-range field.
func (c *Config) Validate() error {
	switch {
	case c.Handlers == nil:
		return errors.New("process: Config.Handlers is required")
	case c.Store == nil:
		return errors.New("process: Config.Store is required")
	case c.Pool == nil:
		return errors.New("process: Config.Pool is required")
	case c.DueDays < 0 || c.DueDays > commands.MaxDueDays:
		return fmt.Errorf("process: DueDays %d: want 0 to %d", c.DueDays, commands.MaxDueDays)
	}
	return nil
}

// Manager runs the process managers of one process: the billing-run and dunning event
// handlers, the command handlers they send to, and the scheduler (overdue marks, the dunning
// sweep, scheduled billing runs). Create it with New, then Start; Stop ends it.
type Manager struct {
	cfg     Config
	log     zerolog.Logger
	h       *commands.Handlers
	tracker *Tracker
	dunning *Dunning
	holds   *Holds

	router  *message.Router
	bus     *syncBus
	sender  *cqrs.CommandBus
	offsets map[string]*consumer.Offsets
	metrics tickMetrics

	tickMu  sync.Mutex
	work    handlerWork // the router's handlers running
	cancel  context.CancelFunc
	stopped chan struct{} // closed when the scheduler, the router and every handler have ended
}

// New returns a Manager over cfg.
func New(cfg Config) (*Manager, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	dunning, err := NewDunning(cfg.Handlers, cfg.GraceDays)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, log: cfg.Logger.With().Str("component", "process").Logger(), h: cfg.Handlers,
		tracker: NewTracker(cfg.Pool, cfg.Store), dunning: dunning, bus: newSyncBus(),
		holds: NewHolds(cfg.Pool),
		offsets: map[string]*consumer.Offsets{
			// billing starts at the beginning of the feed: an unfinished run of any age must be found.
			groupBilling: consumer.NewOffsets(cfg.Pool, consumer.OffsetsConfig{FlushEvery: offsetFlushEvery}),
			// dunning starts at the head: its scheduler sweep covers what came before.
			groupDunning: consumer.NewOffsets(cfg.Pool, consumer.OffsetsConfig{FlushEvery: offsetFlushEvery,
				Start: func(ctx context.Context, _ string) (eventstore.Position, error) { return cfg.Store.Head(ctx) }}),
		}}
	if err := m.build(); err != nil {
		return nil, err
	}
	if err := m.metrics.register(cfg.Registerer); err != nil {
		return nil, err
	}
	return m, nil
}

// build wires the router: the command processor on the in-process bus, and the event group
// processor on the event store's feed.
func (m *Manager) build() error {
	logger := wmLogger{log: m.log}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: m.cfg.closeTimeout}, logger)
	if err != nil {
		return err
	}
	if m.cfg.Registerer != nil {
		wmetrics.NewPrometheusMetricsBuilder(m.cfg.Registerer, "dotmac", "process").AddPrometheusRouterMetrics(router)
	}
	router.AddMiddleware(m.track, middleware.Recoverer)
	m.router = router
	commandTopic := func(name string) string { return "process." + name }
	marshaler := cqrs.JSONMarshaler{GenerateName: cqrs.StructName}
	if m.sender, err = cqrs.NewCommandBusWithConfig(m.bus, cqrs.CommandBusConfig{
		GeneratePublishTopic: func(p cqrs.CommandBusGeneratePublishTopicParams) (string, error) {
			return commandTopic(p.CommandName), nil
		},
		Marshaler: marshaler, Logger: logger,
	}); err != nil {
		return err
	}
	if err := m.addCommandHandlers(router, marshaler, commandTopic, logger); err != nil {
		return err
	}
	return m.addEventHandlers(router)
}

func (m *Manager) addCommandHandlers(router *message.Router, marshaler cqrs.CommandEventMarshaler, topic func(string) string, logger wmLogger) error {
	p, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
		GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
			return topic(p.CommandName), nil
		},
		SubscriberConstructor: func(cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) { return m.bus, nil },
		Marshaler:             marshaler, Logger: logger,
	})
	if err != nil {
		return err
	}
	return p.AddHandlers(
		cqrs.NewCommandHandler("process.RunBillingPeriod", m.handleRunBillingPeriod),
		cqrs.NewCommandHandler("process.EvaluateDunning", m.handleEvaluateDunning),
		cqrs.NewCommandHandler("process.MarkOverdueInvoice", m.handleMarkOverdueInvoice),
	)
}

// addEventHandlers adds the consumer groups' handlers: each reads the whole feed, in batch
// messages of up to feedBatchEvents events, and handles a batch at a time (batch.go).
func (m *Manager) addEventHandlers(router *message.Router) error {
	for _, g := range []struct {
		name   string
		handle message.NoPublishHandlerFunc
	}{{groupBilling, m.handleBillingBatch}, {groupDunning, m.handleDunningBatch}} {
		sub, err := m.groupSubscriber(g.name)
		if err != nil {
			return err
		}
		router.AddConsumerHandler(g.name, esw.TopicAll, sub, g.handle)
	}
	return nil
}

// groupSubscriber delivers group's events from its offset, only while this process holds
// the group's lease.
func (m *Manager) groupSubscriber(group string) (message.Subscriber, error) {
	offsets := m.offsets[group]
	inner, err := esw.NewSubscriber(m.cfg.Store, esw.SubscriberConfig{ConsumerGroup: group, BatchEvents: feedBatchEvents,
		Linger: feedLinger, Offsets: offsets, NackResendDelay: m.cfg.NackResendDelay, Logger: m.log})
	if err != nil {
		return nil, err
	}
	lease := consumer.NewLease(m.cfg.Pool, group, m.cfg.Lease)
	return consumer.NewLeasedSubscriber(lease, inner, offsets, m.log), nil
}

// Start runs the router and the scheduler (which ticks at once) until ctx ends or Stop is
// called. It returns once the handlers run.
func (m *Manager) Start(ctx context.Context) error {
	if m.cancel != nil {
		return errors.New("process: the manager was started already")
	}
	ctx, cancel := context.WithCancel(ctx)
	m.cancel, m.stopped = cancel, make(chan struct{})
	failed := make(chan error, 1)
	routerDone := make(chan struct{})
	go func() {
		defer close(routerDone)
		if err := m.router.Run(ctx); err != nil {
			failed <- err
		}
	}()
	select {
	case <-m.router.Running():
	case err := <-failed:
		cancel()
		close(m.stopped)
		return fmt.Errorf("process: start the router: %w", err)
	}
	schedulerDone := make(chan struct{})
	go func() {
		defer close(schedulerDone)
		m.lead(ctx)
	}()
	go func() {
		<-ctx.Done()
		m.work.close() // a message delivered from now on is nacked, for the next holder
		<-schedulerDone
		if err := m.router.Close(); err != nil {
			m.log.Warn().Err(err).Msg("process: closing the router; waiting for the handlers still running")
		}
		<-routerDone
		m.work.wait()
		m.flushOffsets()
		close(m.stopped)
	}()
	m.log.Info().Int("grace_days", m.cfg.GraceDays).Dur("tick_interval", m.cfg.TickInterval).
		Bool("billing_schedule", m.cfg.BillingSchedule).Msg("process managers running")
	return nil
}

// Stop ends the managers and waits until they have, every handler included: a command in
// flight either completes or is abandoned before its event is acknowledged, so it runs again
// after the next Start; nothing the managers started runs after Stop returns.
func (m *Manager) Stop() {
	if m.cancel == nil {
		return
	}
	m.cancel()
	<-m.stopped
}

func (m *Manager) flushOffsets() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for group, o := range m.offsets {
		if err := o.Flush(ctx); err != nil {
			m.log.Warn().Err(err).Str("consumer_group", group).Msg("process: saving the offset")
		}
	}
}

// now returns the business clock's instant, in UTC.
func (m *Manager) now() time.Time { return m.cfg.Now().UTC() }
