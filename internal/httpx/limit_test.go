package httpx_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/httpx"
	"github.com/dotmac/ledger/internal/promtest"
)

// held is a handler whose requests stay in flight until released.
type held struct {
	entered chan struct{}
	release chan struct{}
	served  sync.WaitGroup
}

func newHeld() *held { return &held{entered: make(chan struct{}, 100), release: make(chan struct{})} }

func (h *held) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == "/metrics" {
		w.WriteHeader(http.StatusOK)
		return
	}
	h.entered <- struct{}{}
	<-h.release
	w.WriteHeader(http.StatusOK)
}

// fill sends n requests that stay in flight, and waits until all are inside the handler.
func (h *held) fill(t *testing.T, srv http.Handler, n int) {
	t.Helper()
	for range n {
		h.served.Go(func() {
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/invoices", nil))
			assert.Equal(t, http.StatusOK, w.Code)
		})
		<-h.entered
	}
}

func serveOne(srv http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}

func TestLimiterShedsBeyondItsLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHeld()
	srv := httpx.NewLimiter(reg, "query", httpx.Limits{MaxInFlight: 2}).Wrap(h)
	h.fill(t, srv, 2)

	w := serveOne(srv, "/v1/invoices")
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	assert.Equal(t, httpx.ProblemContentType, w.Header().Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "/problems/busy", body["type"])
	assert.Contains(t, body["detail"], "the query API is serving its limit of 2 requests at once")
	assert.EqualValues(t, 2, body["max_in_flight"])

	for _, probe := range []string{"/healthz", "/readyz", "/metrics"} {
		assert.Equal(t, http.StatusOK, serveOne(srv, probe).Code, "%s is never held", probe)
	}
	assert.InDelta(t, 1, promtest.Value(t, reg, "dotmac_http_shed_total"), 0)
	assert.InDelta(t, 2, promtest.Value(t, reg, "dotmac_http_in_flight_requests"), 0)

	close(h.release)
	h.served.Wait()
	assert.Equal(t, http.StatusOK, serveOne(srv, "/v1/invoices").Code, "a slot freed is taken again")
}

// A request beyond the limit waits for a slot: one that frees within the queue wait serves it.
func TestLimiterQueuesWithinItsWait(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHeld()
	srv := httpx.NewLimiter(reg, "command", httpx.Limits{MaxInFlight: 1, QueueWait: time.Minute}).Wrap(h)
	h.fill(t, srv, 1)

	got := make(chan int)
	go func() { got <- serveOne(srv, "/v1/customers").Code }()
	require.Eventually(t, func() bool { return promtest.Value(t, reg, "dotmac_http_queued_requests") == 1 },
		10*time.Second, time.Millisecond, "the request waits for a slot")
	select {
	case code := <-got:
		t.Fatalf("answered %d while every slot was held", code)
	default:
	}

	h.release <- struct{}{} // the first finishes
	<-h.entered             // the queued one is in
	close(h.release)
	assert.Equal(t, http.StatusOK, <-got)
	h.served.Wait()
	assert.Zero(t, promtest.Value(t, reg, "dotmac_http_queued_requests"))
	assert.Zero(t, promtest.Value(t, reg, "dotmac_http_shed_total"))
}

// A request whose wait runs out, or whose client goes away while it waits, never reaches the
// handler.
func TestLimiterGivesUpWaiting(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHeld()
	srv := httpx.NewLimiter(reg, "query", httpx.Limits{MaxInFlight: 1, MaxQueued: 4, QueueWait: 20 * time.Millisecond}).Wrap(h)
	h.fill(t, srv, 1)

	assert.Equal(t, http.StatusServiceUnavailable, serveOne(srv, "/v1/invoices").Code)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	w := httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/invoices", nil).WithContext(ctx))
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)

	close(h.release)
	h.served.Wait()
	assert.Empty(t, h.entered, "no shed request reached the handler")
	assert.InDelta(t, 2, promtest.Value(t, reg, "dotmac_http_shed_total"), 0)
}

// A request beyond the limit finding the queue full is answered at once, without waiting:
// the requests waiting stay bounded whatever the queue wait lets in.
func TestLimiterShedsAtOnceWhenTheQueueIsFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHeld()
	srv := httpx.NewLimiter(reg, "query", httpx.Limits{MaxInFlight: 1, MaxQueued: 2, QueueWait: time.Hour}).Wrap(h)
	h.fill(t, srv, 1)

	got := make(chan int, 2)
	for range 2 {
		go func() { got <- serveOne(srv, "/v1/invoices").Code }()
	}
	require.Eventually(t, func() bool { return promtest.Value(t, reg, "dotmac_http_queued_requests") == 2 },
		10*time.Second, time.Millisecond, "two requests wait for the slot")

	w := serveOne(srv, "/v1/invoices") // the queue wait is an hour: only a full queue answers now
	require.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "1", w.Header().Get("Retry-After"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "/problems/busy", body["type"])
	assert.Contains(t, body["detail"], "the query API is serving its limit of 1 requests at once and 2 more are waiting for them")
	assert.EqualValues(t, 2, body["max_queued"])
	assert.InDelta(t, 1, promtest.Value(t, reg, "dotmac_http_shed_total"), 0)
	select {
	case code := <-got:
		t.Fatalf("a queued request was answered %d while the slot was held", code)
	default:
	}

	close(h.release) // the slot frees: the two waiting are served in turn
	for range 2 {
		<-h.entered
	}
	assert.Equal(t, http.StatusOK, <-got)
	assert.Equal(t, http.StatusOK, <-got)
	h.served.Wait()
	assert.Zero(t, promtest.Value(t, reg, "dotmac_http_queued_requests"))
}

func TestLimiterOff(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := newHeld()
	srv := httpx.NewLimiter(reg, "query", httpx.Limits{}).Wrap(h)
	h.fill(t, srv, 50)
	assert.InDelta(t, 50, promtest.Value(t, reg, "dotmac_http_in_flight_requests"), 0, "all served at once, and counted")
	close(h.release)
	h.served.Wait()
	assert.Zero(t, promtest.Value(t, reg, "dotmac_http_in_flight_requests"))
}
