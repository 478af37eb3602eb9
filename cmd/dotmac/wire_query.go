package main

import (
	"context"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/cmd/dotmac/console"
	"github.com/dotmac/ledger/readapi"
)

// queryRoutes returns the query API's routes: the read-model endpoints (readapi), whose
// min_position waits and X-Ledger-Position come from the projection runtime, the auditors'
// endpoints under /v1/audit (from the event store), and the web console under /console,
// which calls those endpoints (and the projection admin API, for operators) in process with
// the signed-in user's token. With --read-database-url the read models and the waits are the
// replica's (wire_replica.go); the event store stays the primary's. The projection admin
// routes themselves are the admin listener's (wire_admin.go), not this public API's.
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
	auditor := audit.New(sys.store)
	mountAPI := func(r *mux.Router) {
		api.Mount(r)
		wh.MountQueries(r, sys.key) // documented in the query API's OpenAPI document
		audit.Routes(r, auditor, sys.key)
	}
	query, admin := newRouter(), newRouter()
	mountAPI(query)
	rt.Routes(admin, sys.key)
	con, err := console.New(console.Config{Key: sys.key, Query: query, Admin: admin, Secure: sys.flags.key.production,
		Verify: func(r *http.Request, o audit.VerifyOptions) (*audit.Report, error) {
			o.DensePositions = sys.flags.storage.backend == "postgres"
			o.Checkpoints = audit.NewCheckpointStore(sys.pool)
			rep, err := auditor.Verify(r.Context(), o)
			if err == nil {
				rep.SkipDrift()
			}
			return rep, err
		}})
	if err != nil {
		return nil, err
	}
	return func(r *mux.Router) {
		mountAPI(r)
		con.Mount(r)
	}, nil
}
