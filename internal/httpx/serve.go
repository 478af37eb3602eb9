package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"
)

// ShutdownTimeout bounds how long in-flight requests may take to finish after a stop signal.
const ShutdownTimeout = 20 * time.Second

// NewServer returns an http.Server with the timeouts every API uses.
func NewServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// ServeOption tunes Serve.
type ServeOption func(*serveConfig)

type serveConfig struct {
	shutdownTimeout time.Duration
	onDrain         func() // called once the in-flight requests are counted, before waiting for them
	onListening     func(map[string]net.Addr)
}

// WithShutdownTimeout bounds the drain (default ShutdownTimeout).
func WithShutdownTimeout(d time.Duration) ServeOption {
	return func(c *serveConfig) { c.shutdownTimeout = d }
}

// WithDrainHook calls f when the stop signal came and the requests in flight were counted,
// before they are waited for: tests let their requests finish (or not) there.
func WithDrainHook(f func()) ServeOption { return func(c *serveConfig) { c.onDrain = f } }

// WithListening calls f with every server's bound address once all listen (so a server given
// port 0 can tell which port it got), before any request is served.
func WithListening(f func(map[string]net.Addr)) ServeOption {
	return func(c *serveConfig) { c.onListening = f }
}

// inFlight counts the requests a handler is serving.
type inFlight struct {
	next http.Handler
	n    atomic.Int64
}

func (f *inFlight) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.n.Add(1)
	defer f.n.Add(-1)
	f.next.ServeHTTP(w, r)
}

// Serve listens on every server's address (failing fast if one cannot listen), serves until
// ctx ends, then shuts all down gracefully: listeners close at once, in-flight requests get up
// to ShutdownTimeout to finish. It logs "HTTP servers drained" with, per API, the requests in
// flight at the stop signal, how many finished and how many were abandoned, and how long the
// drain took.
func Serve(ctx context.Context, log zerolog.Logger, servers map[string]*http.Server, opts ...ServeOption) error {
	cfg := serveConfig{shutdownTimeout: ShutdownTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	counters := map[string]*inFlight{}
	for name, s := range servers {
		counters[name] = &inFlight{next: s.Handler}
		s.Handler = counters[name]
	}
	listeners := map[string]net.Listener{}
	var lc net.ListenConfig
	for name, s := range servers {
		ln, err := lc.Listen(ctx, "tcp", s.Addr)
		if err != nil {
			for _, l := range listeners {
				_ = l.Close()
			}
			return fmt.Errorf("%s API: listen on %s: %w", name, s.Addr, err)
		}
		listeners[name] = ln
		log.Info().Str("api", name).Str("addr", ln.Addr().String()).Msg("listening")
	}
	if cfg.onListening != nil {
		addrs := make(map[string]net.Addr, len(listeners))
		for name, ln := range listeners {
			addrs[name] = ln.Addr()
		}
		cfg.onListening(addrs)
	}
	g, gctx := errgroup.WithContext(ctx)
	for name, s := range servers {
		ln := listeners[name]
		g.Go(func() error {
			if err := s.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("%s API: %w", name, err)
			}
			return nil
		})
	}
	g.Go(func() error {
		<-gctx.Done()
		return drain(log, servers, counters, cfg)
	})
	return g.Wait()
}

// drain shuts every server down at once and logs what each had in flight and what became of it.
func drain(log zerolog.Logger, servers map[string]*http.Server, counters map[string]*inFlight, cfg serveConfig) error {
	start := time.Now()
	atStop := map[string]int64{}
	for name, c := range counters {
		atStop[name] = c.n.Load()
	}
	if cfg.onDrain != nil {
		cfg.onDrain()
	}
	sctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	apis := zerolog.Dict()
	for name, s := range servers {
		wg.Go(func() {
			err := s.Shutdown(sctx)
			abandoned := counters[name].n.Load()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s API shutdown: %w", name, err))
			}
			apis.Dict(name, zerolog.Dict().Int64("in_flight_at_stop", atStop[name]).
				Int64("finished", max(atStop[name]-abandoned, 0)).Int64("abandoned", abandoned).
				Int64("took_ms", time.Since(start).Milliseconds()))
		})
	}
	wg.Wait()
	log.Info().Dict("apis", apis).Int64("took_ms", time.Since(start).Milliseconds()).Msg("HTTP servers drained")
	return errors.Join(errs...)
}
