package bench

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/readapi/loadtest"
)

// TestReadsBeforeTheRunAreNotCounted: the portal's reads start before the billing run (warm
// connections, a warm pool), and only those sent from the run's start are counted.
func TestReadsBeforeTheRunAreNotCounted(t *testing.T) {
	t.Parallel()
	var served atomic.Int64
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		assert.Equal(t, "Bearer t", r.Header.Get("Authorization"))
		w.WriteHeader(http.StatusOK)
	}))
	defer api.Close()
	srv := &server{queryURL: api.URL, token: "t"}
	groups := []loadtest.Group{{Name: "invoices", Paths: []string{"/v1/invoices", "/v1/customers"}}}

	ctx, stop := context.WithCancel(t.Context())
	from := make(chan time.Time, 1)
	done := make(chan attackResults, 1)
	go func() { done <- readWhile(ctx, srv, groups, 200, from) }()
	require.Eventually(t, func() bool { return served.Load() >= 20 }, 10*time.Second, 5*time.Millisecond, "reads before the run")
	start := time.Now()
	from <- start
	require.Eventually(t, func() bool { return served.Load() >= 60 }, 10*time.Second, 5*time.Millisecond, "reads during the run")
	stop()
	out := <-done

	assert.Positive(t, out.metrics.Requests)
	assert.Less(t, int64(out.metrics.Requests), served.Load(), "the reads sent before the run are left out")
	assert.False(t, out.bySecond.first.Before(start), "the first read counted was sent at %v, before the run started at %v", out.bySecond.first, start)
}
