package main

import (
	"context"
	"fmt"
	"time"

	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/readmodel"
)

// registeredProjections lists the read models the projectors keep and the query API reads.
func registeredProjections() []projections.Projection {
	return readmodel.All()
}

// projectionRuntime returns sys's projection runtime, creating it (not started) on first use.
// The query role mounts its admin routes with rt.Routes(router, sys.key) and waits for
// min_position with rt.WaitFor.
func projectionRuntime(ctx context.Context, sys *system) (*projections.Runtime, error) {
	sys.runtimeOnce.Do(func() {
		if err := migrate.Up(ctx, sys.pool, projections.MigrationSet()); err != nil {
			sys.runtimeErr = fmt.Errorf("apply the projection runtime's migrations: %w", err)
			return
		}
		sys.runtime, sys.runtimeErr = projections.New(ctx, sys.pool, sys.store, registeredProjections(), projections.Options{
			Logger: sys.log.With().Str("component", "projections").Logger(), Registerer: sys.registry,
			ReadyMaxLag: sys.flags.readyMaxLag, MaxCopies: sys.flags.maxCopies, Partitions: sys.flags.partitions,
			MinBatchInterval: minBatchInterval(sys.flags.batchInterval), LiveConcurrency: sys.flags.liveConcurrency,
		})
	})
	return sys.runtime, sys.runtimeErr
}

// minBatchInterval is projections.Options.MinBatchInterval for --projection-batch-interval,
// whose 0 (or less) turns pacing off (the option's 0 takes the default).
func minBatchInterval(flag time.Duration) time.Duration {
	if flag <= 0 {
		return -1
	}
	return flag
}

// startProjector starts the projectors and adds their readiness check (failing while a
// projection is stalled or lags more than --ready-max-lag); stop waits for them to finish
// their batch.
func startProjector(ctx context.Context, sys *system) (stop func(), err error) {
	rt, err := projectionRuntime(ctx, sys)
	if err != nil {
		return nil, err
	}
	if err := rt.Start(ctx); err != nil {
		rt.Stop()
		return nil, err
	}
	sys.health.Add("projections", rt.Ready)
	sys.log.Info().Strs("projections", rt.Names()).Msg("projectors running")
	return rt.Stop, nil
}
