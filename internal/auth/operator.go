package auth

import (
	"net/http"

	"github.com/dotmac/ledger/internal/httpx"
)

// OperatorPermissions are the permissions an operator token can use: the operator routes
// require one of them (besides the operator claim); tenant routes refuse operator tokens.
var OperatorPermissions = []string{ProjectionsRead, ProjectionsRebuild, AuditSign}

// RequireOperator wraps an operator route's h so that it answers 401 without a principal, 403
// for a tenant's (whatever its permissions: "*" of a tenant is not an operator) and 403 for an
// operator's without perm. It must run inside Authenticate.
func RequireOperator(perm string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := From(r.Context())
		if !ok {
			httpx.WriteProblem(w, r, httpx.Unauthorized("no principal"))
			return
		}
		if !p.Operator {
			httpx.WriteProblem(w, r, operatorsOnly())
			return
		}
		if !p.Can(perm) {
			httpx.WriteProblem(w, r, httpx.Forbidden(perm))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RequireOperatorFunc is RequireOperator for a handler function.
func RequireOperatorFunc(perm string, f http.HandlerFunc) http.Handler {
	return RequireOperator(perm, f)
}

// operatorsOnly is the 403 of a tenant token on an operator route.
func operatorsOnly() *httpx.Problem {
	return &httpx.Problem{Type: "/problems/operators-only", Title: "Operators only", Status: http.StatusForbidden,
		Detail: "this route is for operators; mint an operator token with dotmac token --operator"}
}

// tenantsOnly is the 403 of an operator token on a tenant route.
func tenantsOnly() *httpx.Problem {
	return &httpx.Problem{Type: "/problems/tenants-only", Title: "Tenants only", Status: http.StatusForbidden,
		Detail: "this route serves a tenant's data and an operator token has no tenant; mint a tenant token with dotmac token --tenant"}
}
