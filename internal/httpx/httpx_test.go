package httpx_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/httpx"
)

func TestProblemJSONCarriesExtensions(t *testing.T) {
	w := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/x", nil)
	p := httpx.Unavailable("store down", 1500*time.Millisecond)
	p.Extensions = map[string]any{"position": 42}
	httpx.WriteProblem(w, r, p)
	assert.Equal(t, 503, w.Code)
	assert.Equal(t, "2", w.Header().Get("Retry-After"))
	assert.Equal(t, httpx.ProblemContentType, w.Header().Get("Content-Type"))
	var body map[string]any
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &body))
	assert.Equal(t, "/problems/unavailable", body["type"])
	assert.Equal(t, float64(503), body["status"]) //nolint:testifylint // JSON numbers decode as float64 in a map
	assert.Equal(t, "/v1/x", body["instance"])
	assert.Contains(t, w.Body.String(), `"position":42`)
}

type payload struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func TestDecodeJSON(t *testing.T) {
	tests := []struct {
		name, body, ctype string
		status            int
		field             string
	}{
		{"ok", `{"name":"a","count":1}`, "application/json", 0, ""},
		{"malformed", `{"name":`, "application/json", 400, ""},
		{"wrong type", `{"count":"x"}`, "application/json", 400, "count"},
		{"unknown field", `{"nope":1}`, "application/json", 400, "nope"},
		{"two values", `{} {}`, "application/json", 400, ""},
		{"empty", ``, "application/json", 400, ""},
		{"too large", `{"name":"` + strings.Repeat("x", 200) + `"}`, "application/json", 413, ""},
		{"not json", `name=a`, "application/x-www-form-urlencoded", 415, ""},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(tc.body))
		r.Header.Set("Content-Type", tc.ctype)
		var dst payload
		err := httpx.DecodeJSON(httptest.NewRecorder(), r, 100, &dst)
		if tc.status == 0 {
			assert.NoError(t, err, tc.name)
			continue
		}
		var p *httpx.Problem
		require.ErrorAs(t, err, &p, tc.name)
		assert.Equal(t, tc.status, p.Status, tc.name)
		if tc.field != "" {
			require.NotEmpty(t, p.Errors, tc.name)
			assert.Equal(t, tc.field, p.Errors[0].Field, tc.name)
		}
	}
}

func TestObserveIDsRecoveryAndRoute(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	r.HandleFunc("/boom/{id}", func(http.ResponseWriter, *http.Request) { panic("kaboom") })
	r.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, 200, map[string]string{"route": httpx.InfoFrom(r.Context()).Route})
	})
	h := httpx.Observe(zerolog.Nop(), httpx.NewHTTPMetrics(reg, "test"), r)

	w := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodGet, "/boom/1", nil)
	req.Header.Set("X-Request-Id", "req-123")
	h.ServeHTTP(w, req)
	assert.Equal(t, 500, w.Code)
	assert.Equal(t, "req-123", w.Header().Get("X-Request-Id"))
	assert.Contains(t, w.Body.String(), "req-123")

	w = httptest.NewRecorder()
	req = httptest.NewRequest(http.MethodGet, "/ok", nil)
	req.Header.Set("X-Request-Id", "bad id with spaces")
	h.ServeHTTP(w, req)
	assert.Equal(t, 200, w.Code)
	assert.Len(t, w.Header().Get("X-Request-Id"), 32, "a malformed id is replaced")
	assert.Contains(t, w.Body.String(), `"/ok"`)
	mfs, err := reg.Gather()
	require.NoError(t, err)
	assert.NotEmpty(t, mfs)
}

func TestWriteErrorMapsThenFallsBack(t *testing.T) {
	sentinel := errors.New("domain rule")
	mapper := func(err error) (*httpx.Problem, bool) {
		if errors.Is(err, sentinel) {
			return &httpx.Problem{Type: "/problems/rule", Title: "Rule", Status: 422}, true
		}
		return nil, false
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	w := httptest.NewRecorder()
	httpx.WriteError(w, req, sentinel, mapper)
	assert.Equal(t, 422, w.Code)
	w = httptest.NewRecorder()
	httpx.WriteError(w, req, errors.New("surprise"), mapper)
	assert.Equal(t, 500, w.Code)
}

func TestHealth(t *testing.T) {
	h := httpx.NewHealth()
	h.Add("db", func(context.Context) error { return nil })
	w := httptest.NewRecorder()
	h.Ready(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, 200, w.Code)
	cause := errors.New("stalled at position 7: stream t-acme/customer-1: amount 1999999999997980000.00")
	h.Add("projector", func(context.Context) error { return cause })
	var logged bytes.Buffer
	r := mux.NewRouter()
	h.Mount(r, prometheus.NewRegistry())
	srv := httpx.Observe(zerolog.New(&logged), httpx.NewHTTPMetrics(prometheus.NewRegistry(), "test"), r)
	w = httptest.NewRecorder()
	srv.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, 503, w.Code)
	id := httpx.ErrorID(cause)
	assert.Contains(t, w.Body.String(), id, "the answer names the error id")
	for _, secret := range []string{"acme", "1999999999997980000", "stalled"} {
		assert.NotContains(t, w.Body.String(), secret, "/readyz needs no token: it tells nothing of the cause")
	}
	assert.Contains(t, logged.String(), id, "the log holds the id")
	assert.Contains(t, logged.String(), cause.Error(), "and the details")
}

// TestServeFinishesInFlightRequests: a stop signal lets a running request complete.
func TestServeFinishesInFlightRequests(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	started := make(chan struct{})
	srv := httpx.NewServer(addr, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		close(started)
		time.Sleep(300 * time.Millisecond)
		_, _ = io.WriteString(w, "done")
	}))
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- httpx.Serve(ctx, zerolog.Nop(), map[string]*http.Server{"test": srv}) }()
	var resp *http.Response
	got := make(chan error, 1)
	go func() {
		for range 50 {
			resp, err = http.Get("http://" + addr + "/")
			if err == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		got <- err
	}()
	<-started
	cancel()
	require.NoError(t, <-got)
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	assert.Equal(t, "done", string(body))
	require.NoError(t, <-served)
}
