package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/admission"
)

// TestOnlyThePortalsRequestsSlowABillingRun: a slow request of the command or query API makes
// the elastic controller halve a billing run's allowance; one of the admin listener (a CPU
// profile over 30 s, a scrape) does not.
func TestOnlyThePortalsRequestsSlowABillingRun(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		api  string
		want float64
	}{
		{roleCommand, 2}, {roleQuery, 2}, {adminAPI, 4},
	} {
		t.Run(tc.api, func(t *testing.T) {
			t.Parallel()
			start, elapsed := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC), atomic.Int64{}
			advance := func(d time.Duration) { elapsed.Add(int64(d)) }
			ctrl, err := admission.New(admission.Config{Max: 4,
				Now: func() time.Time { return start.Add(time.Duration(elapsed.Load())) }})
			require.NoError(t, err)
			s := &system{log: zerolog.Nop(), registry: prometheus.NewRegistry(), elastic: ctrl}
			slow := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				advance(30 * time.Second) // as long as a CPU profile's request
				w.WriteHeader(http.StatusOK)
			})
			s.observe(tc.api, slow).ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/debug/pprof/profile", nil))
			advance(admission.DefaultInterval) // the controller looks at the interval gone by
			assert.InDelta(t, tc.want, ctrl.Allowance(), 0)
		})
	}
}
