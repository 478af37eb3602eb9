package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmetrics "github.com/ThreeDotsLabs/watermill/components/metrics"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

// routerCloseTimeout bounds how long Stop waits for handlers to finish their message.
const routerCloseTimeout = 30 * time.Second

// maxErrorBytes bounds the error text a stall records.
const maxErrorBytes = 4000

// projector runs the live projectors: one Watermill router with one handler per partition of
// each projection's live build that this process runs (see Runtime.balance).
//
// One handler per projection (rather than one handler fanning each batch out to every
// projection): each has its own subscription starting at its own checkpoint, so a stalled
// projection stops only itself while the others go on, a slow one does not hold the others
// back, and the router's metrics are per projection. The cost is one read of the feed per
// projection per batch, which PostgreSQL serves from cache.
//
// Middleware, outermost first: Prometheus metrics, correlation id, retry with exponential
// backoff (bounded by Options.MaxRetries), recoverer (a panic in the runtime becomes an
// error; a panic in Apply is already an ApplyError). A batch that still fails after the
// retries makes the handler look for the failing event and stall there (liveHandler.handle).
type projector struct {
	r         *Runtime
	router    *message.Router
	keepalive *gochannel.GoChannel
	ctx       context.Context

	mu       sync.Mutex
	handlers map[string]*liveHandler
	gen      int
}

func newProjector(r *Runtime) (*projector, error) {
	logger := wmLogger{r: r}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: routerCloseTimeout}, logger)
	if err != nil {
		return nil, err
	}
	wmetrics.NewPrometheusMetricsBuilder(r.opts.Registerer, "dotmac", "projector").AddPrometheusRouterMetrics(router)
	router.AddMiddleware(
		middleware.CorrelationID,
		middleware.Retry{
			MaxRetries: r.opts.MaxRetries, InitialInterval: r.opts.RetryInitial, MaxInterval: r.opts.RetryMax,
			Multiplier: 2, RandomizationFactor: 0.2, Logger: logger,
			ShouldRetry: func(p middleware.RetryParams) bool { return !errors.Is(p.Err, context.Canceled) },
		}.Middleware,
		middleware.Recoverer,
	)
	// The router closes itself once it has no running handler; this one never stops, so a
	// router whose projections are all stalled can still take them back.
	keepalive := gochannel.NewGoChannel(gochannel.Config{}, watermill.NopLogger{})
	router.AddConsumerHandler("keepalive", "keepalive", keepalive, func(*message.Message) error { return nil })
	return &projector{r: r, router: router, keepalive: keepalive, handlers: map[string]*liveHandler{}}, nil
}

// run starts the router under ctx and returns once it runs.
func (pj *projector) run(ctx context.Context) error {
	pj.ctx = ctx
	failed := make(chan error, 1)
	go func() {
		if err := pj.router.Run(ctx); err != nil {
			failed <- err
		}
	}()
	select {
	case <-pj.router.Running():
		return nil
	case err := <-failed:
		return fmt.Errorf("projections: start the router: %w", err)
	}
}

func (pj *projector) close() {
	if err := pj.router.Close(); err != nil {
		pj.r.log.Warn().Err(err).Msg("projections: closing the router")
	}
	_ = pj.keepalive.Close()
}

// running reports whether a handler of projection name runs (any partition, any build).
func (pj *projector) running(name string) bool {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	for _, h := range pj.handlers {
		if h.e.name == name && !h.stopped() {
			return true
		}
	}
	return false
}

// runningParts lists the partitions of build whose handlers run here and are not being
// stopped; it forgets the handlers that stopped.
func (pj *projector) runningParts(name, build string) []int {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	var out []int
	for key, h := range pj.handlers {
		switch {
		case h.stopped():
			delete(pj.handlers, key)
		case h.e.name == name && h.part.build == build && !h.stopping:
			out = append(out, h.part.k)
		}
	}
	return out
}

// stopPart stops the handler of partition k of build: it releases the partition's lease for
// another process to take.
func (pj *projector) stopPart(build string, k int) {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	if h := pj.handlers[handlerKey(build, k)]; h != nil && !h.stopping {
		h.stopping = true
		pj.r.log.Debug().Str("projection", h.e.name).Int("partition", k).Msg("projections: giving a partition up")
		h.h.Stop()
	}
}

func handlerKey(build string, k int) string { return build + "/" + strconv.Itoa(k) }

// ensure starts the handler of partition k (of n) of e's live build unless it runs. The
// handler delivers only while this process holds the partition's lease (its checkpoint row):
// a partition runs live in one process at a time.
func (pj *projector) ensure(e *entry, build string, n, k int) error {
	pj.mu.Lock()
	defer pj.mu.Unlock()
	key := handlerKey(build, k)
	if h := pj.handlers[key]; h != nil && !h.stopped() {
		return nil
	}
	if pj.router.IsClosed() || pj.ctx.Err() != nil {
		return errors.New("projections: the router is closed")
	}
	part := livePart{build: build, n: n, k: k}
	inner, err := esw.NewSubscriber(pj.r.store, esw.SubscriberConfig{
		ConsumerGroup: "projection." + e.name + "/" + strconv.Itoa(k), Offsets: checkpointOffsets{r: pj.r, part: part},
		BatchEvents: pj.r.opts.LiveBatchEvents, Logger: pj.r.log,
	})
	if err != nil {
		return err
	}
	lease := consumer.NewLease(pj.r.pool, partConsumer(build, n, k), pj.r.opts.Lease)
	sub := consumer.NewLeasedSubscriber(lease, inner, nil, pj.r.log)
	pj.gen++
	lh := &liveHandler{r: pj.r, e: e, part: part}
	lh.h = pj.router.AddConsumerHandler(fmt.Sprintf("%s/%d#%d", e.name, k, pj.gen), esw.TopicAll, sub, lh.handle)
	if err := pj.router.RunHandlers(pj.ctx); err != nil {
		return fmt.Errorf("projections: start the handler of %s: %w", e.name, err)
	}
	pj.handlers[key] = lh
	pj.r.log.Debug().Str("projection", e.name).Int("partition", k).Int("partitions", n).Msg("projections: live projector started")
	return nil
}

// checkpointOffsets makes a partition's subscription start at its checkpoint. Nothing is
// saved on ack: the checkpoint is committed with the rows, by the handler.
type checkpointOffsets struct {
	r    *Runtime
	part livePart
}

func (o checkpointOffsets) Load(ctx context.Context, _, _ string) (eventstore.Position, error) {
	var cp int64
	var at *time.Time
	err := o.r.pool.QueryRow(ctx, o.r.sqls.cp.Read, partConsumer(o.part.build, o.part.n, o.part.k)).Scan(&cp, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("%w: no checkpoint for partition %d of %s", ErrNotBuilt, o.part.k, o.part.build)
	}
	if err != nil {
		return 0, fmt.Errorf("read the checkpoint of partition %d of %s: %w", o.part.k, o.part.build, err)
	}
	return eventstore.Position(cp), nil //nolint:gosec // non-negative
}

func (checkpointOffsets) Save(context.Context, string, string, eventstore.Position) error { return nil }

// wmLogger sends Watermill's logs to the runtime's logger (its info chatter at debug).
type wmLogger struct {
	r      *Runtime
	fields watermill.LogFields
}

func (l wmLogger) Error(msg string, err error, fields watermill.LogFields) {
	if errors.Is(err, context.Canceled) {
		return
	}
	l.r.log.Warn().Err(err).Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Info(msg string, fields watermill.LogFields) {
	l.r.log.Debug().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Debug(msg string, fields watermill.LogFields) {
	l.r.log.Trace().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) Trace(msg string, fields watermill.LogFields) {
	l.r.log.Trace().Fields(map[string]any(l.fields.Add(fields))).Msg("watermill: " + msg)
}

func (l wmLogger) With(fields watermill.LogFields) watermill.LoggerAdapter {
	return wmLogger{r: l.r, fields: l.fields.Add(fields)}
}
