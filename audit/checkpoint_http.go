package audit

import (
	"errors"
	"net/http"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// CheckpointRoutes mounts the operators' signing route on r. It signs every tenant's events,
// so it needs an operator token (dotmac token --operator) with audit:sign; a tenant token,
// even with "*", gets 403:
//
//	POST /v1/audit/checkpoints   (operator, audit:sign)   sign up to the head now; 200 {"key_id", "signed": [...]}
func CheckpointRoutes(r *mux.Router, s *Signer, key *auth.Key) {
	r.Handle("/v1/audit/checkpoints", key.Authenticate(auth.RequireOperatorFunc(auth.AuditSign, func(w http.ResponseWriter, req *http.Request) {
		signed, err := s.Sign(req.Context())
		if err != nil {
			httpx.WriteError(w, req, err, mapSignError)
			return
		}
		if signed == nil {
			signed = []Checkpoint{}
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"key_id": s.KeyID(), "signed": signed})
	}))).Methods(http.MethodPost)
}

// mapSignError answers a refusal to chain onto tampered checkpoints with 409: the operator
// must investigate (dotmac audit verify) before signing goes on.
func mapSignError(err error) (*httpx.Problem, bool) {
	if errors.Is(err, ErrCheckpointsRemoved) || errors.Is(err, ErrBadSignature) || errors.Is(err, ErrCheckpointAheadOfHead) {
		return &httpx.Problem{Type: "/problems/checkpoints-tampered", Title: "Signed checkpoints were tampered with", Status: http.StatusConflict,
			Detail: err.Error() + "; run dotmac audit verify --public-key before signing again"}, true
	}
	return nil, false
}
