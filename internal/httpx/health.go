package httpx

import (
	"context"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Check is one readiness condition; a nil error means ready.
type Check func(ctx context.Context) error

// Health serves /healthz (the process is up) and /readyz (every check passes).
type Health struct {
	mu     sync.RWMutex
	checks map[string]Check
}

// NewHealth returns a Health with no checks.
func NewHealth() *Health { return &Health{checks: map[string]Check{}} }

// Add registers a named readiness check (replacing one of the same name).
func (h *Health) Add(name string, c Check) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.checks[name] = c
}

// checkTimeout bounds each readiness check.
const checkTimeout = 2 * time.Second

// Live answers /healthz.
func (h *Health) Live(w http.ResponseWriter, _ *http.Request) {
	WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// run runs every check, each bounded by checkTimeout, and returns the names in order and the
// failures by name.
func (h *Health) run(ctx context.Context) ([]string, map[string]error) {
	h.mu.RLock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	h.mu.RUnlock()
	sort.Strings(names)
	failed := map[string]error{}
	for _, n := range names {
		h.mu.RLock()
		c := h.checks[n]
		h.mu.RUnlock()
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		err := c(cctx)
		cancel()
		if err != nil {
			failed[n] = err
		}
	}
	return names, failed
}

// Ready answers /readyz: 200 with each check's result, or 503 naming the failing ones, each
// with the error id its details are logged under.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	names, failed := h.run(r.Context())
	results := map[string]string{}
	var failing []string
	for _, n := range names {
		err, bad := failed[n]
		if !bad {
			results[n] = "ok"
			continue
		}
		// /readyz needs no token: the details (a stalled event's stream and amounts) go
		// to the log only, under the id the answer gives.
		results[n], failing = "failed, error id "+Opaque(r, "readiness check "+n+" failed", err), append(failing, n)
	}
	if len(failing) > 0 {
		p := Unavailable("not ready: "+strings.Join(failing, ", ")+" failing", 5*time.Second)
		p.Extensions = map[string]any{"checks": results}
		WriteProblem(w, r, p)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
}

// CheckDetail is one check's result in a detailed readiness answer.
type CheckDetail struct {
	Status string `json:"status"` // ok or failed
	Error  string `json:"error,omitempty"`
}

// ReadyDetail answers /readyz for operators: the status code Ready would give, and per check
// its error text (which may carry a tenant's data, so it is for operators only), plus the
// members extra returns (for example every projection's status); an error of extra is
// reported in its place.
func (h *Health) ReadyDetail(w http.ResponseWriter, r *http.Request, extra func(context.Context) (map[string]any, error)) {
	names, failed := h.run(r.Context())
	checks := map[string]CheckDetail{}
	var failing []string
	for _, n := range names {
		if err, bad := failed[n]; bad {
			checks[n], failing = CheckDetail{Status: "failed", Error: err.Error()}, append(failing, n)
			continue
		}
		checks[n] = CheckDetail{Status: "ok"}
	}
	body := map[string]any{"status": "ready", "checks": checks}
	if extra != nil {
		more, err := extra(r.Context())
		if err != nil {
			body["extra_error"] = err.Error()
		}
		for k, v := range more {
			body[k] = v
		}
	}
	status := http.StatusOK
	if len(failing) > 0 {
		status, body["status"], body["failing"] = http.StatusServiceUnavailable, "not ready", failing
		w.Header().Set("Retry-After", "5")
	}
	WriteJSON(w, status, body)
}

// The paths of the probes and the metrics.
const (
	LivePath    = "/healthz"
	ReadyPath   = "/readyz"
	MetricsPath = "/metrics"
)

// MountProbes adds /healthz and /readyz (terse: no detail, see Ready) to r: what a public
// listener serves.
func (h *Health) MountProbes(r *mux.Router) {
	r.Handle(LivePath, http.HandlerFunc(h.Live)).Methods(http.MethodGet, http.MethodHead)
	r.Handle(ReadyPath, http.HandlerFunc(h.Ready)).Methods(http.MethodGet, http.MethodHead)
}

// MountMetrics adds /metrics (from gatherer) to r.
func MountMetrics(r *mux.Router, gatherer prometheus.Gatherer) {
	r.Handle(MetricsPath, promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
}
