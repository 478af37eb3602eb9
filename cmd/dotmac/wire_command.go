package main

import (
	"context"
	"time"

	"github.com/gorilla/mux"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/eventstore"
)

// idempotencyPurgeInterval is how often expired idempotency keys are deleted.
const idempotencyPurgeInterval = time.Minute

// commandRoutes returns the command API's routes, and starts the purge of expired
// idempotency keys, the releaser of the key releases an outage kept, and the warmer of the
// billing index and payment references (until ctx ends).
func commandRoutes(ctx context.Context, sys *system) (func(*mux.Router), *api.API, error) {
	h, err := commandHandlers(sys)
	if err != nil {
		return nil, nil, err
	}
	keys := pgstore.NewKeys(sys.commands(), pgstore.KeysConfig{Options: commandStoreOptions(sys)})
	var reg *providers.Registry
	if file := sys.flags.providersFile; file != "" {
		if reg, err = providers.Load(file); err != nil {
			return nil, nil, err
		}
	}
	a, err := api.New(api.Config{Handlers: h, Keys: keys, Auth: sys.key, CommandTimeout: keys.Lease() * 2 / 3,
		Background: ctx, Providers: reg, Registerer: sys.registry}) // billing runs go on after their 202 until shutdown
	if err != nil {
		return nil, nil, err
	}
	go keys.RunPurger(ctx, idempotencyPurgeInterval, func(err error) {
		sys.log.Warn().Err(err).Msg("purging expired idempotency keys")
	})
	if kr, ok := h.RecordsKeys(); ok {
		go runAppendKeyPurger(ctx, kr, keys.Retention(), idempotencyPurgeInterval, func(err error) {
			sys.log.Warn().Err(err).Msg("purging expired idempotency keys recorded with the events")
		})
	}
	go keys.RunReleaser(ctx, func(err error) {
		sys.log.Warn().Err(err).Msg("releasing idempotency keys an outage kept (retrying)")
	})
	go sys.index.RunWarmer(ctx, func(err error) {
		sys.log.Warn().Err(err).Msg("catching the billing index and payment references up with the feed (retrying)")
	})
	wh, err := webhookService(sys)
	if err != nil {
		return nil, nil, err
	}
	return func(r *mux.Router) {
		a.Mount(r)
		wh.MountCommands(r, sys.key) // documented in the command API's OpenAPI document
	}, a, nil
}

// commandHandlers returns the process's one commands.Handlers (its state cache and stream
// locks are per instance), for the command API and the process managers alike.
func commandHandlers(sys *system) (*commands.Handlers, error) {
	sys.handlersOnce.Do(func() {
		opts := commandStoreOptions(sys)
		sys.index = pgstore.NewIndex(sys.commands(), sys.store)
		sys.handlers, sys.handlersErr = commands.New(commands.Config{
			Store: sys.store, Numbers: pgstore.NewNumbers(sys.commands(), opts), Index: sys.index,
			Registerer: sys.registry, CacheStreams: cacheStreams(sys), Elastic: elasticOf(sys),
		})
	})
	return sys.handlers, sys.handlersErr
}

// elasticOf is the process's elastic controller as the handlers take it: nil, not a nil
// pointer in an interface, without one.
func elasticOf(sys *system) commands.Elastic {
	if sys.elastic == nil {
		return nil
	}
	return sys.elastic
}

// commands is the pool of the command side's tables.
func (sys *system) commands() *pgxpool.Pool {
	if sys.commandPool != nil {
		return sys.commandPool
	}
	return sys.pool
}

// commandStoreOptions: claims and invoice numbers may skip the WAL flush only when the event
// store commits to the same PostgreSQL (see package pgstore).
func commandStoreOptions(sys *system) pgstore.Options {
	return pgstore.Options{AsyncCommit: sys.flags != nil && sys.flags.storage.backend == "postgres"}
}

func cacheStreams(sys *system) int {
	if sys.flags == nil {
		return 0 // the default
	}
	return sys.flags.cacheSize
}

// Bounds of one purge of the keys recorded with the events.
const (
	appendKeyPurgeRows    = 1000
	appendKeyPurgeBatches = 100
)

// runAppendKeyPurger deletes, every interval until ctx ends, the idempotency keys the event
// store recorded with the events more than retention ago (in bounded batches), reporting each
// error to onError.
func runAppendKeyPurger(ctx context.Context, kr eventstore.KeyRecorder, retention, interval time.Duration, onError func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		before := time.Now().Add(-retention)
		for range appendKeyPurgeBatches {
			n, err := kr.PurgeKeys(ctx, before, appendKeyPurgeRows)
			if err != nil {
				if ctx.Err() == nil {
					onError(err)
				}
				break
			}
			if n < appendKeyPurgeRows {
				break
			}
		}
	}
}
