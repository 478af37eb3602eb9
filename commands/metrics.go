package commands

import (
	"context"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Command outcomes, the "outcome" label of dotmac_commands_total.
const (
	OutcomeOK          = "ok"          // events appended
	OutcomeNoop        = "noop"        // nothing to change
	OutcomeInvalid     = "invalid"     // domain.ErrInvalid
	OutcomeNotFound    = "not_found"   // domain.ErrNotFound
	OutcomeRejected    = "rejected"    // domain.ErrRejected
	OutcomeConflict    = "conflict"    // ErrConflict
	OutcomeUnavailable = "unavailable" // eventstore.ErrUnavailable, a deadline
	OutcomeError       = "error"       // anything else: a bug or a broken history
)

// Outcome classifies a command's error (nil: OutcomeOK) for metrics and logs.
func Outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case errors.Is(err, domain.ErrInvariant):
		return OutcomeError
	case errors.Is(err, domain.ErrInvalid):
		return OutcomeInvalid
	case errors.Is(err, domain.ErrNotFound):
		return OutcomeNotFound
	case errors.Is(err, domain.ErrRejected):
		return OutcomeRejected
	case errors.Is(err, ErrConflict):
		return OutcomeConflict
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return OutcomeUnavailable
	}
	return OutcomeError
}

var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// metrics are the command side's Prometheus series.
type metrics struct {
	commands *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	appends  *prometheus.HistogramVec
	retries  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dotmac_commands_total", Help: "Commands handled, by command and outcome.",
		}, []string{"command", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dotmac_command_duration_seconds", Help: "Command latency (load, decide, append), by command.",
			Buckets: latencyBuckets,
		}, []string{"command"}),
		appends: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "dotmac_command_append_duration_seconds", Help: "Event store append latency seen by commands, by stream kind and result.",
			Buckets: latencyBuckets,
		}, []string{"stream", "result"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "dotmac_command_conflict_retries_total", Help: "Commands decided again after a version conflict, by command stream kind.",
		}, []string{"stream"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.commands, m.latency, m.appends, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records one command.
func (m *metrics) observe(command string, res Result, err error, took time.Duration) {
	outcome := Outcome(err)
	if err == nil && !res.Changed() {
		outcome = OutcomeNoop
	}
	m.commands.WithLabelValues(command, outcome).Inc()
	m.latency.WithLabelValues(command).Observe(took.Seconds())
}

// observeAppend records one append.
func (m *metrics) observeAppend(kind domain.StreamKind, err error, took time.Duration) {
	result := "ok"
	switch {
	case errors.Is(err, eventstore.ErrWrongExpectedVersion):
		result = "conflict"
	case err != nil:
		result = "error"
	}
	m.appends.WithLabelValues(kind.String(), result).Observe(took.Seconds())
}

// run executes one command under its metrics.
func (h *Handlers) run(command string, f func() (Result, error)) (Result, error) {
	start := time.Now()
	res, err := f()
	h.metrics.observe(command, res, err, time.Since(start))
	return res, err
}
