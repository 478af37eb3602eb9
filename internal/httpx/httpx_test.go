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
	"sync/atomic"
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
		{"a stray bracket after the value", `{"name":"a"} ]`, "application/json", 400, ""},
		{"a stray brace after the value", `{"name":"a"}}`, "application/json", 400, ""},
		{"whitespace after the value", "{\"name\":\"a\"} \r\n\t ", "application/json", 0, ""},
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
	h.MountProbes(r)
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

// TestHealthProbesServeNoMetrics: a public listener's probes are /healthz and /readyz only.
func TestHealthProbesServeNoMetrics(t *testing.T) {
	r := mux.NewRouter()
	httpx.NewHealth().MountProbes(r)
	w := httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusNotFound, w.Code)
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounter(prometheus.CounterOpts{Name: "x_total", Help: "x"}))
	httpx.MountMetrics(r, reg)
	w = httptest.NewRecorder()
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Contains(t, w.Body.String(), "x_total 0")
}

// TestReadyDetail: the operators' readiness answer gives each check's error text and the
// extra members, with the status code Ready gives.
func TestReadyDetail(t *testing.T) {
	h := httpx.NewHealth()
	h.Add("db", func(context.Context) error { return nil })
	extra := func(context.Context) (map[string]any, error) {
		return map[string]any{"projections": []string{"invoices"}}, nil
	}
	w := httptest.NewRecorder()
	h.ReadyDetail(w, httptest.NewRequest(http.MethodGet, "/readyz", nil), extra)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.JSONEq(t, `{"status":"ready","checks":{"db":{"status":"ok"}},"projections":["invoices"]}`, w.Body.String())

	h.Add("projector", func(context.Context) error { return errors.New("invoices stalled at position 7: bad amount") })
	w = httptest.NewRecorder()
	h.ReadyDetail(w, httptest.NewRequest(http.MethodGet, "/readyz", nil), extra)
	assert.Equal(t, http.StatusServiceUnavailable, w.Code)
	assert.Equal(t, "5", w.Header().Get("Retry-After"))
	assert.JSONEq(t, `{"status":"not ready","failing":["projector"],"checks":{"db":{"status":"ok"},
		"projector":{"status":"failed","error":"invoices stalled at position 7: bad amount"}},"projections":["invoices"]}`, w.Body.String())
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

// countingReader counts the bytes a client's transport took from a request body.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// TestOversizedBodyWithExpectContinueAnswers413: a client that announces a body over the limit
// and waits for "100 Continue" (curl's default) gets the 413 problem before sending the body; a
// chunked body of unannounced length is read up to the limit, then refused with the 413 too.
func TestOversizedBodyWithExpectContinueAnswers413(t *testing.T) {
	const limit = 1 << 10
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var dst payload
		if err := httpx.DecodeJSON(w, r, limit, &dst); err != nil {
			httpx.WriteError(w, r, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	tr := &http.Transport{ExpectContinueTimeout: time.Hour} // the client waits for the server's word
	t.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	body := `{"name":"` + strings.Repeat("x", 8<<20) + `"}`
	for _, chunked := range []bool{false, true} {
		src := &countingReader{r: strings.NewReader(body)}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL, src)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Expect", "100-continue")
		if !chunked {
			req.ContentLength = int64(len(body))
		}
		resp, err := client.Do(req)
		require.NoError(t, err, "chunked=%v", chunked)
		out, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "chunked=%v", chunked)
		assert.Equal(t, httpx.ProblemContentType, resp.Header.Get("Content-Type"))
		assert.Contains(t, string(out), "/problems/too-large")
		if !chunked {
			assert.Zero(t, src.n.Load(), "an announced oversized body is refused before it is sent")
		}
	}
}

// TestObserveRefusesAQueryThatDoesNotParse: a ";" or a malformed %-escape in a query value is a
// 400 naming the parameter, never a silently dropped filter.
func TestObserveRefusesAQueryThatDoesNotParse(t *testing.T) {
	reached := 0
	h := httpx.Observe(zerolog.Nop(), nil, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		reached++
		w.WriteHeader(http.StatusOK)
	}))
	tests := []struct{ query, param string }{
		{"status=paid';drop%20table%20x;--", "status"},
		{"limit=10&status=paid;x", "status"},
		{"customer=%zz", "customer"},
		{"st%4tus=paid", "st%4tus"},
	}
	for _, tc := range tests {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/invoices?"+tc.query, nil))
		assert.Equal(t, http.StatusBadRequest, w.Code, tc.query)
		assert.Equal(t, httpx.ProblemContentType, w.Header().Get("Content-Type"), tc.query)
		var p httpx.Problem
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &p), tc.query)
		require.Len(t, p.Errors, 1, tc.query)
		assert.Equal(t, tc.param, p.Errors[0].Field, tc.query)
	}
	assert.Zero(t, reached, "no route runs for a query that does not parse")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/v1/invoices?status=paid%3B&limit=10", nil))
	assert.Equal(t, http.StatusOK, w.Code, "an escaped ; is an ordinary character")
}

// drainLine is the "HTTP servers drained" log line.
type drainLine struct {
	Message string `json:"message"`
	TookMS  *int64 `json:"took_ms"`
	APIs    map[string]struct {
		InFlightAtStop int64  `json:"in_flight_at_stop"`
		Finished       int64  `json:"finished"`
		Abandoned      int64  `json:"abandoned"`
		TookMS         *int64 `json:"took_ms"`
	} `json:"apis"`
}

// TestServeSaysWhatItDrained: the shutdown log says, per API, how many requests were in
// flight at the stop signal, how many finished and how many were abandoned at the timeout. The
// drain hook, not timing, decides when the requests end.
func TestServeSaysWhatItDrained(t *testing.T) {
	for _, abandon := range []bool{false, true} {
		started, release := make(chan struct{}), make(chan struct{})
		srv := httpx.NewServer(freeAddr(t), http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			close(started)
			<-release
			w.WriteHeader(http.StatusNoContent)
		}))
		var logs strings.Builder
		ctx, cancel := context.WithCancel(context.Background())
		opts := []httpx.ServeOption{httpx.WithDrainHook(func() {
			if !abandon {
				close(release)
			}
		})}
		if abandon {
			opts = append(opts, httpx.WithShutdownTimeout(time.Nanosecond))
		}
		served := make(chan error, 1)
		go func() {
			served <- httpx.Serve(ctx, zerolog.New(&logs), map[string]*http.Server{"command": srv}, opts...)
		}()
		got := make(chan error, 1)
		go func() {
			var err error
			for range 500 { // until the server listens
				var resp *http.Response
				if resp, err = http.Get("http://" + srv.Addr + "/"); err == nil {
					_ = resp.Body.Close()
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			got <- err
		}()
		<-started
		cancel()
		err := <-served
		if abandon {
			require.ErrorIs(t, err, context.DeadlineExceeded)
			close(release)
		} else {
			require.NoError(t, err)
		}
		require.NoError(t, <-got)
		var line drainLine
		for l := range strings.SplitSeq(strings.TrimSpace(logs.String()), "\n") {
			if strings.Contains(l, "HTTP servers drained") {
				require.NoError(t, json.Unmarshal([]byte(l), &line))
			}
		}
		require.Contains(t, line.APIs, "command", logs.String())
		api := line.APIs["command"]
		assert.Equal(t, int64(1), api.InFlightAtStop, "abandon=%v", abandon)
		assert.NotNil(t, api.TookMS)
		assert.NotNil(t, line.TookMS)
		if abandon {
			assert.Equal(t, int64(0), api.Finished)
			assert.Equal(t, int64(1), api.Abandoned)
		} else {
			assert.Equal(t, int64(1), api.Finished)
			assert.Equal(t, int64(0), api.Abandoned)
		}
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// decodeRawByDecoder is what DecodeJSONBytes did for a json.RawMessage before its fast path:
// the decoder's value, or its error.
func decodeRawByDecoder(body []byte) (json.RawMessage, bool) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw json.RawMessage
	if dec.Decode(&raw) != nil || len(bytes.TrimSpace(body[dec.InputOffset():])) != 0 {
		return nil, false
	}
	return raw, true
}

// A raw message is checked with json.Valid, not decoded: it must keep exactly what the
// decoder kept (the value without the whitespace around it), and refuse what it refused.
func TestDecodeJSONBytesIntoARawMessageKeepsTheValue(t *testing.T) {
	for _, body := range []string{
		`{"name":"a","count":1}`, " \r\n\t{\"name\":\"a\"} \r\n\t ", `[1, 2]`, `"s"`, `12`, `{"a":"\u00e9<>&"}`,
		`{"name":`, `{} {}`, `{"name":"a"} ]`, `{"name":"a"}}`, ``, "  ", "\v{}", "{}\u00a0", `name=a`,
	} {
		var raw json.RawMessage
		err := httpx.DecodeJSONBytes([]byte(body), &raw)
		want, ok := decodeRawByDecoder([]byte(body))
		if !ok {
			var p *httpx.Problem
			require.ErrorAs(t, err, &p, "%q", body)
			assert.Equal(t, 400, p.Status, "%q", body)
			continue
		}
		require.NoError(t, err, "%q", body)
		assert.Equal(t, string(want), string(raw), "%q", body)
	}
}

func FuzzDecodeJSONBytesIntoARawMessage(f *testing.F) {
	for _, s := range []string{`{"a":1}`, ` [1] `, `{} {}`, `{"a":`, "\x00", `"\ud800"`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var raw json.RawMessage
		err := httpx.DecodeJSONBytes(body, &raw)
		want, ok := decodeRawByDecoder(body)
		if ok != (err == nil) {
			t.Fatalf("%q: decoder ok %v, DecodeJSONBytes error %v", body, ok, err)
		}
		if ok && !bytes.Equal(want, raw) {
			t.Fatalf("%q: decoder kept %q, DecodeJSONBytes %q", body, want, raw)
		}
	})
}
