package httpx

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"regexp"
	"runtime/debug"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Info is what the middleware learns about a request as it passes down the chain; later
// layers fill in what they know (the route, the tenant) and the log line reports it all.
type Info struct {
	RequestID     string
	CorrelationID string
	Route         string
	Tenant        string
	Subject       string
	// WaitsForBackground: the request waits for background work (POST /v1/billing-runs waits
	// for its run), so its latency says nothing of how fast requests are served.
	WaitsForBackground bool
	// Shed: the API was serving its limit of requests and the request was answered busy
	// (Limiter) without being routed; it is logged as a warning, not as an error.
	Shed bool
}

type infoKey struct{}
type loggerKey struct{}

// InfoFrom returns the request's Info (a zero Info outside the middleware).
func InfoFrom(ctx context.Context) *Info {
	if i, ok := ctx.Value(infoKey{}).(*Info); ok {
		return i
	}
	return &Info{}
}

// LoggerFrom returns the request's logger (carrying its request id), or a disabled logger.
func LoggerFrom(ctx context.Context) *zerolog.Logger {
	if l, ok := ctx.Value(loggerKey{}).(*zerolog.Logger); ok {
		return l
	}
	l := zerolog.Nop()
	return &l
}

var validID = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,128}$`)

// NewID returns a random 128-bit hex id.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// HTTPMetrics are the request counters and latency histograms of one API.
type HTTPMetrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewHTTPMetrics registers the request metrics of the API named api on reg.
func NewHTTPMetrics(reg prometheus.Registerer, api string) *HTTPMetrics {
	m := &HTTPMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dotmac_http_requests_total", Help: "HTTP requests by API, route, method and status.",
			ConstLabels: prometheus.Labels{"api": api},
		}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dotmac_http_request_duration_seconds", Help: "HTTP request latency by API and route.",
			ConstLabels: prometheus.Labels{"api": api},
			Buckets:     []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route", "method"}),
	}
	reg.MustRegister(m.requests, m.latency)
	return m
}

// Observe wraps an API's router: request and correlation ids (accepted from X-Request-Id and
// X-Correlation-Id when well-formed, else generated, and echoed back), a request-scoped
// logger, panic recovery into a 500 problem, one log line per request, and metrics. A query
// string that does not parse is answered 400 naming the parameter before any route runs.
func Observe(log zerolog.Logger, m *HTTPMetrics, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &Info{RequestID: headerID(r, "X-Request-Id"), Route: "unmatched"}
		info.CorrelationID = headerID(r, "X-Correlation-Id")
		if r.Header.Get("X-Correlation-Id") == "" {
			info.CorrelationID = info.RequestID
		}
		w.Header().Set("X-Request-Id", info.RequestID)
		w.Header().Set("X-Correlation-Id", info.CorrelationID)
		reqLog := log.With().Str("request_id", info.RequestID).Logger()
		ctx := context.WithValue(context.WithValue(r.Context(), infoKey{}, info), loggerKey{}, &reqLog)
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
					panic(p)
				}
				reqLog.Error().Interface("panic", p).Bytes("stack", debug.Stack()).Msg("handler panicked")
				if !rec.wrote {
					WriteProblem(rec, r, Internal(info.RequestID))
				}
			}
			finish(reqLog, m, r, info, rec, time.Since(start))
		}()
		if p := checkQuery(r.URL.RawQuery); p != nil {
			WriteProblem(rec, r, p)
			return
		}
		next.ServeHTTP(rec, r.WithContext(ctx))
	})
}

func headerID(r *http.Request, name string) string {
	if v := r.Header.Get(name); validID.MatchString(v) {
		return v
	}
	return NewID()
}

func finish(log zerolog.Logger, m *HTTPMetrics, r *http.Request, info *Info, rec *statusRecorder, took time.Duration) {
	if m != nil {
		m.requests.WithLabelValues(info.Route, r.Method, statusLabel(rec.status)).Inc()
		m.latency.WithLabelValues(info.Route, r.Method).Observe(took.Seconds())
	}
	ev := log.Info()
	switch {
	case info.Shed:
		ev = log.Warn()
	case rec.status >= 500:
		ev = log.Error()
	}
	ev.Str("method", r.Method).Str("route", info.Route).Str("path", r.URL.Path).Int("status", rec.status).
		Dur("duration", took).Str("tenant", info.Tenant).Str("subject", info.Subject).
		Str("correlation_id", info.CorrelationID).Int64("bytes", rec.bytes).Msg("request")
}

func statusLabel(code int) string {
	const digits = "0123456789"
	if code < 100 || code > 999 {
		return "other"
	}
	return string([]byte{digits[code/100], digits[code/10%10], digits[code%10]})
}

// TagRoute records the matched mux route template in the request's Info. Install it with
// router.Use so it runs after matching.
func TagRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if route := mux.CurrentRoute(r); route != nil {
			if tpl, err := route.GetPathTemplate(); err == nil {
				InfoFrom(r.Context()).Route = tpl
			}
		}
		next.ServeHTTP(w, r)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
