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

// Ready answers /readyz: 200 with each check's result, or 503 naming the failing ones, each
// with the error id its details are logged under.
func (h *Health) Ready(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	names := make([]string, 0, len(h.checks))
	for n := range h.checks {
		names = append(names, n)
	}
	h.mu.RUnlock()
	sort.Strings(names)
	results := map[string]string{}
	var failed []string
	for _, n := range names {
		h.mu.RLock()
		c := h.checks[n]
		h.mu.RUnlock()
		ctx, cancel := context.WithTimeout(r.Context(), checkTimeout)
		err := c(ctx)
		cancel()
		if err != nil {
			// /readyz needs no token: the details (a stalled event's stream and amounts) go
			// to the log only, under the id the answer gives.
			results[n], failed = "failed, error id "+Opaque(r, "readiness check "+n+" failed", err), append(failed, n)
			continue
		}
		results[n] = "ok"
	}
	if len(failed) > 0 {
		p := Unavailable("not ready: "+strings.Join(failed, ", ")+" failing", 5*time.Second)
		p.Extensions = map[string]any{"checks": results}
		WriteProblem(w, r, p)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"status": "ready", "checks": results})
}

// Mount adds /healthz, /readyz and /metrics (from gatherer) to mux.
func (h *Health) Mount(r *mux.Router, gatherer prometheus.Gatherer) {
	r.Handle("/healthz", http.HandlerFunc(h.Live)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/readyz", http.HandlerFunc(h.Ready)).Methods(http.MethodGet, http.MethodHead)
	r.Handle("/metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{})).Methods(http.MethodGet)
}
