// Package loadtest drives the query API (or any HTTP API) with vegeta at a constant rate and
// reports latency percentiles per target group: the measurement behind the issue's target "p99
// at most 10 ms at 1,000 requests/s". It is a library for benchmarks and `dotmac bench`; the
// server binary never imports it.
package loadtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// Limits.
const (
	// MaxRate is the highest rate Run accepts (requests/s).
	MaxRate = 100_000
	// MaxDuration is the longest attack Run accepts.
	MaxDuration = 10 * time.Minute
)

// Group is a set of requests measured together (for example "invoice by id" over many
// invoice ids); Run sends them round robin.
type Group struct {
	Name string
	// Paths are request paths with their query ("/v1/invoices/0194..."), relative to the
	// base URL.
	Paths []string
}

// Config is one load test.
type Config struct {
	// BaseURL is the API's address ("http://127.0.0.1:8081").
	BaseURL string
	// Token is the bearer token sent with every request.
	Token string
	// Rate is the requests per second of each group; Duration how long each group runs.
	Rate     int
	Duration time.Duration
	// Header is added to every request (If-None-Match, X-Min-Position...).
	Header http.Header
	// Connections bounds the idle connections kept per host (default 100).
	Connections int
	// Warmup, when set, attacks each group this long at the same rate before measuring
	// (connections opened, statements prepared, caches warm); its results are dropped.
	Warmup time.Duration
}

// Result is one group's measurement.
type Result struct {
	Group    string  `json:"group"`
	Requests uint64  `json:"requests"`
	Rate     float64 `json:"rate"`    // requests/s actually sent
	Success  float64 `json:"success"` // share of 2xx/304 answers
	// P50 to Max are the latencies of the successful answers only: a request refused at once
	// (503 from a server shedding load) says nothing of how long a read takes, and counted in
	// would pull the percentiles down. Success says how many there were.
	P50    time.Duration  `json:"p50"`
	P90    time.Duration  `json:"p90"`
	P99    time.Duration  `json:"p99"`
	Max    time.Duration  `json:"max"`
	Status map[string]int `json:"status"` // answers per status code
	Errors []string       `json:"errors"` // distinct transport or status errors
}

// String reports the result on one line.
func (r Result) String() string {
	return fmt.Sprintf("%s: %d requests at %.0f/s, %.2f%% ok, p50 %s, p90 %s, p99 %s, max %s",
		r.Group, r.Requests, r.Rate, 100*r.Success, r.P50.Round(time.Microsecond), r.P90.Round(time.Microsecond),
		r.P99.Round(time.Microsecond), r.Max.Round(time.Microsecond))
}

// Run attacks each group in turn at cfg.Rate for cfg.Duration and returns their results. It
// stops early, with the results so far, when ctx ends.
func Run(ctx context.Context, cfg Config, groups ...Group) ([]Result, error) {
	if err := cfg.validate(groups); err != nil {
		return nil, err
	}
	conns := cfg.Connections
	if conns <= 0 {
		conns = 100
	}
	// One client for every attacker: the warm-up's connections serve the measurement.
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         (&net.Dialer{KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConnsPerHost: conns,
	}}
	defer client.CloseIdleConnections()
	var out []Result
	for _, g := range groups {
		// A fresh attacker per attack: an attacker that finished an attack sends no more.
		if cfg.Warmup > 0 {
			warm := cfg
			warm.Duration = cfg.Warmup
			if _, err := runGroup(ctx, vegeta.NewAttacker(vegeta.Client(client)), warm, g); err != nil {
				return out, err
			}
		}
		res, err := runGroup(ctx, vegeta.NewAttacker(vegeta.Client(client)), cfg, g)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

func (c Config) validate(groups []Group) error {
	switch {
	case c.BaseURL == "":
		return errors.New("loadtest: BaseURL is required")
	case c.Rate < 1 || c.Rate > MaxRate:
		return fmt.Errorf("loadtest: rate %d: want 1 to %d requests/s", c.Rate, MaxRate)
	case c.Duration <= 0 || c.Duration > MaxDuration || c.Warmup < 0 || c.Warmup > MaxDuration:
		return fmt.Errorf("loadtest: duration %s, warmup %s: want up to %s", c.Duration, c.Warmup, MaxDuration)
	case len(groups) == 0:
		return errors.New("loadtest: no groups")
	}
	for _, g := range groups {
		if len(g.Paths) == 0 {
			return fmt.Errorf("loadtest: group %q has no paths", g.Name)
		}
	}
	return nil
}

func runGroup(ctx context.Context, attacker *vegeta.Attacker, cfg Config, g Group) (Result, error) {
	header := cfg.Header.Clone()
	if header == nil {
		header = http.Header{}
	}
	if cfg.Token != "" {
		header.Set("Authorization", "Bearer "+cfg.Token)
	}
	targets := make([]vegeta.Target, len(g.Paths))
	for i, p := range g.Paths {
		targets[i] = vegeta.Target{Method: http.MethodGet, URL: cfg.BaseURL + p, Header: header}
	}
	var m, ok vegeta.Metrics // every answer; the successful ones
	status := map[string]int{}
	results := attacker.Attack(vegeta.NewStaticTargeter(targets...), vegeta.Rate{Freq: cfg.Rate, Per: time.Second}, cfg.Duration, g.Name)
	for res := range results {
		m.Add(res)
		if res.Code == http.StatusOK || res.Code == http.StatusNotModified {
			ok.Add(res)
		}
		status[strconv.Itoa(int(res.Code))]++
		if ctx.Err() != nil {
			attacker.Stop()
		}
	}
	m.Close()
	ok.Close()
	r := Result{Group: g.Name, Requests: m.Requests, Rate: m.Rate, P50: ok.Latencies.P50, P90: ok.Latencies.P90,
		P99: ok.Latencies.P99, Max: ok.Latencies.Max, Status: status, Errors: m.Errors}
	if m.Requests > 0 {
		r.Success = float64(ok.Requests) / float64(m.Requests)
	}
	return r, ctx.Err()
}
