package audit

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

// Routes mounts the auditors' endpoints under /v1/audit on r (the query API). Every route
// needs a bearer token with audit:read and reads only the token's tenant.
func Routes(r *mux.Router, a *Auditor, key *auth.Key) {
	h := &handlers{a: a}
	s := r.PathPrefix("/v1/audit").Subrouter()
	route := func(path string, fn func(http.ResponseWriter, *http.Request, domain.TenantID) error) {
		s.Handle(path, key.Authenticate(auth.Require(auth.AuditRead, h.wrap(fn)))).Methods(http.MethodGet)
	}
	route("/customers/{customer_id}/history", h.customerHistory)
	route("/services/{service_id}/history", h.serviceHistory)
	route("/plans/{code}/history", h.planHistory)
	route("/customers/{customer_id}/as-of", h.customerAsOf)
	route("/trial-balance", h.trialBalance)
	route("/verify", h.verify)
	route("/export", h.export)
}

type handlers struct{ a *Auditor }

func (h *handlers) wrap(fn func(http.ResponseWriter, *http.Request, domain.TenantID) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.From(r.Context())
		tenant, err := domain.ParseTenantID(p.Tenant)
		if err == nil {
			err = fn(w, r, tenant)
		}
		if err != nil {
			httpx.WriteError(w, r, err, mapError)
		}
	})
}

func mapError(err error) (*httpx.Problem, bool) {
	switch {
	case errors.Is(err, ErrNoHistory):
		return httpx.NotFound(err.Error()), true
	case errors.Is(err, domain.ErrInvalid):
		return httpx.BadRequest(err.Error()), true
	case errors.Is(err, eventstore.ErrUnavailable):
		return httpx.Unavailable(err.Error(), 5*time.Second), true
	}
	return nil, false
}

func field(name, reason string) *httpx.Problem {
	return httpx.BadRequest("a parameter is invalid", httpx.FieldError{Field: name, Reason: reason})
}

func (h *handlers) customerHistory(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	id, err := domain.ParseCustomerID(mux.Vars(r)["customer_id"])
	if err != nil {
		return httpx.NotFound("no such customer")
	}
	q := HistoryQuery{Stream: domain.CustomerStream(tenant, id)}
	for _, f := range []string{"invoice_id", "payment_id", "credit_note_id"} {
		if v := r.URL.Query().Get(f); v != "" {
			q.Entity, q.EntityID = f, v
		}
	}
	return h.history(w, r, q)
}

func (h *handlers) serviceHistory(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	id, err := domain.ParseServiceID(mux.Vars(r)["service_id"])
	if err != nil {
		return httpx.NotFound("no such service")
	}
	return h.history(w, r, HistoryQuery{Stream: domain.ServiceStream(tenant, id)})
}

func (h *handlers) planHistory(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	code, err := domain.ParsePlanCode(mux.Vars(r)["code"])
	if err != nil {
		return httpx.NotFound("no such plan")
	}
	return h.history(w, r, HistoryQuery{Stream: domain.PlanStream(tenant, code)})
}

func (h *handlers) history(w http.ResponseWriter, r *http.Request, q HistoryQuery) error {
	var err error
	if q.From, err = dayParam(r, "from"); err != nil {
		return err
	}
	if q.To, err = dayParam(r, "to"); err != nil {
		return err
	}
	entries, err := h.a.History(r.Context(), q)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"stream": q.Stream, "events": entries})
	return nil
}

func dayParam(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		return time.Time{}, field(name, "want a date like 2026-01-31")
	}
	return t, nil
}

func cutoffParams(r *http.Request) (Cutoff, error) {
	date, err := dayParam(r, "date")
	if err != nil {
		return Cutoff{}, err
	}
	var pos uint64
	if v := r.URL.Query().Get("position"); v != "" {
		if pos, err = strconv.ParseUint(v, 10, 63); err != nil {
			return Cutoff{}, field("position", "want a global position (a positive integer)")
		}
	}
	if pos != 0 && !date.IsZero() {
		return Cutoff{}, field("position", "give date or position, not both")
	}
	return Cutoff{Date: date, Position: eventstore.Position(pos)}, nil
}

func (h *handlers) customerAsOf(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	id, err := domain.ParseCustomerID(mux.Vars(r)["customer_id"])
	if err != nil {
		return httpx.NotFound("no such customer")
	}
	cut, err := cutoffParams(r)
	if err != nil {
		return err
	}
	c, err := h.a.CustomerAsOf(r.Context(), tenant, id, cut)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, c)
	return nil
}

func (h *handlers) trialBalance(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	cut, err := cutoffParams(r)
	if err != nil {
		return err
	}
	tb, err := h.a.TrialBalanceAsOf(r.Context(), tenant, cut)
	if err != nil {
		return err
	}
	httpx.WriteJSON(w, http.StatusOK, tb)
	return nil
}

// verify checks the tenant's streams and ledger (positions are shared by all tenants, so
// the feed-wide checks are left to the operator's `dotmac audit verify`).
func (h *handlers) verify(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	var to uint64
	if v := r.URL.Query().Get("to"); v != "" {
		var err error
		if to, err = strconv.ParseUint(v, 10, 63); err != nil {
			return field("to", "want a global position (a positive integer)")
		}
	}
	rep, err := h.a.Verify(r.Context(), VerifyOptions{Tenant: tenant.String(), To: eventstore.Position(to), Deep: r.URL.Query().Get("deep") == "true"})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !rep.OK {
		status = http.StatusConflict
	}
	httpx.WriteJSON(w, status, rep)
	return nil
}

// export streams a zip of the period's export: the CSV and JSON Lines files and the manifest.
func (h *handlers) export(w http.ResponseWriter, r *http.Request, tenant domain.TenantID) error {
	period, err := domain.ParsePeriod(r.URL.Query().Get("period"))
	if err != nil {
		return field("period", "want a month like 2026-01")
	}
	dir, err := os.MkdirTemp("", "dotmac-export-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	m, err := h.a.Export(r.Context(), tenant, period, dir)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="export-%s-%s.zip"`, tenant, period))
	zw := zip.NewWriter(w)
	names := []string{ManifestName}
	for _, f := range m.Files {
		names = append(names, f.Name)
	}
	for _, name := range names {
		if err := addToZip(zw, dir, name); err != nil {
			httpx.LoggerFrom(r.Context()).Error().Err(err).Msg("export zip")
			return nil // the status is sent; a broken zip is all the client can get now
		}
	}
	_ = zw.Close()
	return nil
}

func addToZip(zw *zip.Writer, dir, name string) error {
	f, err := os.Open(filepath.Join(dir, name)) // #nosec G304 -- names come from our own manifest
	if err != nil {
		return err
	}
	defer f.Close()
	out, err := zw.Create(name)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, f)
	return err
}
