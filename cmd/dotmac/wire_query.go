package main

import (
	"context"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/readapi"
)

// queryRoutes returns the query API's routes: the read-model endpoints (readapi), whose
// min_position waits and X-Ledger-Position come from the projection runtime, and the auditors'
// endpoints under /v1/audit (from the event store). With --read-database-url the read models
// and the waits are the replica's (wire_replica.go); the event store stays the primary's. The
// projection admin routes are the admin listener's (wire_admin.go), not this public API's.
func queryRoutes(ctx context.Context, sys *system) (func(*mux.Router), error) {
	rt, err := projectionRuntime(ctx, sys)
	if err != nil {
		return nil, err
	}
	cfg := readapi.Config{DB: sys.pool, Auth: sys.key, Positions: rt}
	if sys.replica != nil {
		cfg.DB, cfg.Positions = sys.replica.pool, sys.replica.runtime
	}
	api, err := readapi.New(cfg)
	if err != nil {
		return nil, err
	}
	wh, err := webhookService(sys)
	if err != nil {
		return nil, err
	}
	return func(r *mux.Router) {
		api.Mount(r)
		wh.MountQueries(r, sys.key) // documented in the query API's OpenAPI document
		audit.Routes(r, audit.New(sys.store), sys.key)
	}, nil
}
