package projections

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// Routes mounts the projection admin API on router. It spans every tenant (statuses with
// their error text, rebuilds of shared read models, as-of copies of every tenant's rows), so
// each route needs an operator token (`dotmac token --operator`) verified by key and holding
// the permission named; a tenant token, even with "*", gets 403:
//
//	GET  /v1/projections                 (operator, projections:read)     every projection's Status
//	GET  /v1/projections/{name}          (operator, projections:read)     one Status, with rebuild progress
//	POST /v1/projections/{name}/rebuild  (operator, projections:rebuild)  202 and a status URL
//	POST /v1/projections/{name}/retry    (operator, projections:rebuild)  200 and what Retry did
//
// and the copy catalog's (copyRoutes). The rebuild body is optional: {"as_of": "2026-03-31" |
// "120000", "into": "analysis_q1"}; a copy beyond the cap is a 409; so is the retry body:
// {"tenants": ["acme"]} (none: every stalled tenant). cmd/dotmac mounts these on the admin
// listener only, with AdminOpenAPI.
func (r *Runtime) Routes(router *mux.Router, key *auth.Key) {
	op := func(perm string, f http.HandlerFunc) http.Handler {
		return key.Authenticate(auth.RequireOperatorFunc(perm, f))
	}
	router.Handle("/v1/projections", op(auth.ProjectionsRead, r.serveList)).Methods(http.MethodGet)
	router.Handle("/v1/projections/{name}", op(auth.ProjectionsRead, r.serveStatus)).Methods(http.MethodGet)
	router.Handle("/v1/projections/{name}/rebuild", op(auth.ProjectionsRebuild, r.serveRebuild)).Methods(http.MethodPost)
	router.Handle("/v1/projections/{name}/retry", op(auth.ProjectionsRebuild, r.serveRetry)).Methods(http.MethodPost)
	r.copyRoutes(router, op)
}

// retryRequest is the optional body of POST /v1/projections/{name}/retry.
type retryRequest struct {
	Tenants []string `json:"tenants"`
}

// maxRetryTenants bounds the tenants one retry request names.
const maxRetryTenants = 1000

func (r *Runtime) serveRetry(w http.ResponseWriter, req *http.Request) {
	var body retryRequest
	if req.ContentLength != 0 {
		if err := httpx.DecodeJSON(w, req, httpx.DefaultBodyLimit, &body); err != nil {
			httpx.WriteError(w, req, err)
			return
		}
	}
	if len(body.Tenants) > maxRetryTenants {
		reason := fmt.Sprintf("at most %d tenants", maxRetryTenants)
		httpx.WriteProblem(w, req, httpx.BadRequest(reason, httpx.FieldError{Field: "tenants", Reason: reason}))
		return
	}
	res, err := r.Retry(req.Context(), RetryOptions{Projections: []string{mux.Vars(req)["name"]}, Tenants: body.Tenants})
	if err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	if res == nil {
		res = []RetryResult{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"results": res})
}

func (r *Runtime) serveList(w http.ResponseWriter, req *http.Request) {
	sts, err := r.List(req.Context())
	if err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"projections": sts})
}

func (r *Runtime) serveStatus(w http.ResponseWriter, req *http.Request) {
	st, err := r.Status(req.Context(), mux.Vars(req)["name"])
	if err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, st)
}

// rebuildRequest is the optional body of POST /v1/projections/{name}/rebuild.
type rebuildRequest struct {
	AsOf string `json:"as_of"`
	// AsOfBy says how a date in AsOf is read: "business" (default) or "recorded".
	AsOfBy string `json:"as_of_by"`
	Into   string `json:"into"`
}

// rebuildAccepted is the 202 answer.
type rebuildAccepted struct {
	Projection string              `json:"projection"`
	Build      string              `json:"build"`
	Purpose    string              `json:"purpose"`
	Target     eventstore.Position `json:"target"`
	StatusURL  string              `json:"status_url"`
}

func (r *Runtime) serveRebuild(w http.ResponseWriter, req *http.Request) {
	name := mux.Vars(req)["name"]
	var body rebuildRequest
	if req.ContentLength != 0 {
		if err := httpx.DecodeJSON(w, req, httpx.DefaultBodyLimit, &body); err != nil {
			httpx.WriteError(w, req, err)
			return
		}
	}
	opts := RebuildOptions{Into: strings.TrimSpace(body.Into), By: copiedBy(req)}
	if body.AsOf != "" || body.AsOfBy != "" {
		a, err := ParseAsOfBy(body.AsOf, body.AsOfBy)
		if err != nil {
			field := "as_of"
			if body.AsOfBy != "" {
				field = "as_of_by"
			}
			httpx.WriteProblem(w, req, httpx.BadRequest(err.Error(), httpx.FieldError{Field: field, Reason: err.Error()}))
			return
		}
		opts.AsOf = &a
	}
	p, err := r.StartRebuild(req.Context(), name, opts)
	if err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	url := "/v1/projections/" + name
	w.Header().Set("Location", url)
	httpx.WriteJSON(w, http.StatusAccepted, rebuildAccepted{Projection: name, Build: p.Build, Purpose: p.Purpose, Target: p.Target, StatusURL: url})
}

// problemOf maps the runtime's errors to problems; the rest are 500s.
func problemOf(err error) (*httpx.Problem, bool) {
	switch {
	case errors.Is(err, ErrUnknownProjection):
		return httpx.NotFound(err.Error()), true
	case errors.Is(err, ErrRebuildInProgress):
		return &httpx.Problem{Type: "/problems/rebuild-in-progress", Title: "A rebuild is already running", Status: http.StatusConflict,
			Detail: err.Error()}, true
	case errors.Is(err, ErrInvalidRebuild):
		return httpx.BadRequest(err.Error()), true
	case errors.Is(err, ErrTooManyCopies):
		return &httpx.Problem{Type: "/problems/too-many-copies", Title: "Too many as-of copies", Status: http.StatusConflict,
			Detail: err.Error()}, true
	case errors.Is(err, ErrUnknownCopy):
		return httpx.NotFound(err.Error()), true
	case errors.Is(err, ErrOtherVersion):
		return &httpx.Problem{Type: "/problems/other-version", Title: "Live build of another version", Status: http.StatusConflict,
			Detail: err.Error()}, true
	case errors.Is(err, ErrNotBuilt):
		return &httpx.Problem{Type: "/problems/not-built", Title: "Projection not built yet", Status: http.StatusConflict,
			Detail: err.Error()}, true
	}
	return nil, false
}
