package admission

import (
	"net/http"

	"github.com/dotmac/ledger/internal/httpx"
)

// Foreground wraps an API's router so that c hears how long each of its requests took. Install
// it inside httpx.Observe: a request whose handler marks it as waiting for background work
// (httpx.Info.WaitsForBackground, e.g. POST /v1/billing-runs waiting for its run) is left
// out, its latency saying nothing of how fast the foreground is served.
func (c *Controller) Foreground(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := c.cfg.Now()
		next.ServeHTTP(w, r)
		if !httpx.InfoFrom(r.Context()).WaitsForBackground {
			c.Observe(c.cfg.Now().Sub(start))
		}
	})
}
