package projections

import (
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// copyRoutes mounts the copy catalog's admin routes (Routes calls it; op wraps a handler in
// the operator check of a permission):
//
//	GET    /v1/projection-copies         (operator, projections:read)     every as-of copy
//	DELETE /v1/projection-copies/{name}  (operator, projections:rebuild)  204; drops the copy
func (r *Runtime) copyRoutes(router *mux.Router, op func(string, http.HandlerFunc) http.Handler) {
	router.Handle("/v1/projection-copies", op(auth.ProjectionsRead, r.serveCopies)).Methods(http.MethodGet)
	router.Handle("/v1/projection-copies/{name}", op(auth.ProjectionsRebuild, r.serveDropCopy)).Methods(http.MethodDelete)
}

func (r *Runtime) serveCopies(w http.ResponseWriter, req *http.Request) {
	cs, err := r.Copies(req.Context())
	if err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	if cs == nil {
		cs = []Copy{}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"copies": cs, "max_copies": r.maxCopies()})
}

func (r *Runtime) serveDropCopy(w http.ResponseWriter, req *http.Request) {
	if err := r.DropCopy(req.Context(), mux.Vars(req)["name"]); err != nil {
		httpx.WriteError(w, req, err, problemOf)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// copiedBy is who asks for a copy over HTTP: the operator token's subject.
func copiedBy(req *http.Request) string {
	if p, ok := auth.From(req.Context()); ok {
		return p.Subject
	}
	return ""
}
