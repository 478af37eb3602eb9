package httpx

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
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

// Serve listens on every server's address (failing fast if one cannot listen), serves until
// ctx ends, then shuts all down gracefully: listeners close at once, in-flight requests get up
// to ShutdownTimeout to finish.
func Serve(ctx context.Context, log zerolog.Logger, servers map[string]*http.Server) error {
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
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		var errs []error
		for name, s := range servers {
			if err := s.Shutdown(sctx); err != nil {
				errs = append(errs, fmt.Errorf("%s API shutdown: %w", name, err))
			}
		}
		log.Info().Msg("HTTP servers stopped")
		return errors.Join(errs...)
	})
	return g.Wait()
}
