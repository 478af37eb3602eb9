package main

import (
	"context"
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/dotmac/ledger/audit"

	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/projections"
)

// The admin listener (--admin-addr, default on loopback) is the operators' port of every role
// (a projector-only process listens on it alone):
//
//	GET /healthz, /readyz, /metrics   open: probes and Prometheus need no token. /readyz
//	                                  answers as the public one does (error ids, nothing of
//	                                  the cause) unless the request carries an operator token
//	                                  with projections:read: then each check's error text and
//	                                  every projection's status (stalled positions and errors)
//	GET /openapi.json                 open: the admin API's document
//	/v1/projections..., /v1/projection-copies...
//	                                  operator token (projections:read or :rebuild); a tenant
//	                                  token, whatever its permissions, gets 403
//	/debug/pprof/...                  only with --pprof; open, like /metrics: keep the
//	                                  address private
//
// The public listeners (command, query) serve terse probes and no metrics or admin route.
const (
	adminAPI         = "admin"
	defaultAdminAddr = "127.0.0.1:9090"
)

// adminHandler builds the admin listener's handler. It needs the projection runtime (not
// started unless this process plays the projector role) for projection admin.
func (s *system) adminHandler(ctx context.Context) (http.Handler, error) {
	rt, err := projectionRuntime(ctx, s)
	if err != nil {
		return nil, err
	}
	r := newRouter()
	r.Handle(httpx.LivePath, http.HandlerFunc(s.health.Live)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(httpx.ReadyPath, http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if !s.operatorMay(req, auth.ProjectionsRead) {
			s.health.Ready(w, req)
			return
		}
		s.health.ReadyDetail(w, req, func(ctx context.Context) (map[string]any, error) {
			sts, err := rt.List(ctx)
			if err != nil || s.replica == nil {
				return map[string]any{"projections": sts}, err
			}
			lag, err := s.replica.lag(ctx, rt)
			return map[string]any{"projections": sts, "replica": lag}, err
		})
	})).Methods(http.MethodGet, http.MethodHead)
	httpx.MountMetrics(r, s.registry)
	r.Handle("/openapi.json", projections.AdminOpenAPI).Methods(http.MethodGet, http.MethodHead)
	rt.Routes(r, s.key)
	if s.signer != nil { // operators sign checkpoints of every tenant's events (docs/audit.md)
		audit.CheckpointRoutes(r, s.signer, s.key)
	}
	if s.flags != nil && s.flags.pprof {
		r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		r.HandleFunc("/debug/pprof/profile", pprof.Profile)
		r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		r.HandleFunc("/debug/pprof/trace", pprof.Trace)
		r.PathPrefix("/debug/pprof/").HandlerFunc(pprof.Index)
	}
	return s.observe(adminAPI, r), nil
}

// operatorMay reports whether req carries a valid operator token holding perm.
func (s *system) operatorMay(req *http.Request, perm string) bool {
	raw, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	if !ok || s.key == nil {
		return false
	}
	p, err := s.key.Verify(strings.TrimSpace(raw))
	return err == nil && p.Operator && p.Can(perm)
}

// listenAddrs is the "addrs" member of the "dotmac serving" line: each API's address.
func listenAddrs(servers map[string]*http.Server) *zerolog.Event {
	d := zerolog.Dict()
	for name, srv := range servers {
		d.Str(name, srv.Addr)
	}
	return d
}

// adminText says where the admin API listens, for the development banner.
func adminText(addr string) string {
	if addr == "" {
		return "off (--admin-addr is empty)"
	}
	return "http://" + displayAddr(addr)
}
