package db

import (
	"maps"
	"sync"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// PoolCollector exposes the connection pools' state and acquire waits as Prometheus metrics,
// read from pgxpool's statistics at each scrape. A request that waits for a connection waits
// in the pool, outside any statement PostgreSQL times: dotmac_db_pool_acquire_wait_seconds_total
// over dotmac_db_pool_acquires_waited_total is that wait, and a pool at its maximum with waits
// rising is one too small for its load.
type PoolCollector struct {
	mu    sync.Mutex
	pools map[string]*pgxpool.Pool

	conns, maxConns, acquires, waited, waitSeconds, canceled, opened, closed *prometheus.Desc
}

var _ prometheus.Collector = (*PoolCollector)(nil)

// NewPoolCollector returns a collector of no pool yet (Add).
func NewPoolCollector() *PoolCollector {
	pool := []string{"pool"}
	return &PoolCollector{pools: map[string]*pgxpool.Pool{},
		conns: prometheus.NewDesc("dotmac_db_pool_connections", "Connections of the pool by state: acquired (in use), idle, constructing.",
			[]string{"pool", "state"}, nil),
		maxConns: prometheus.NewDesc("dotmac_db_pool_max_connections", "The most connections the pool opens.", pool, nil),
		acquires: prometheus.NewDesc("dotmac_db_pool_acquires_total", "Connections acquired from the pool.", pool, nil),
		waited: prometheus.NewDesc("dotmac_db_pool_acquires_waited_total",
			"Acquires that found no idle connection and waited for one to be freed or opened.", pool, nil),
		waitSeconds: prometheus.NewDesc("dotmac_db_pool_acquire_wait_seconds_total",
			"Time acquires spent waiting for a connection, summed.", pool, nil),
		canceled: prometheus.NewDesc("dotmac_db_pool_acquires_canceled_total",
			"Acquires that ended (their context did) before a connection was free.", pool, nil),
		opened: prometheus.NewDesc("dotmac_db_pool_connections_opened_total", "Connections the pool opened.", pool, nil),
		closed: prometheus.NewDesc("dotmac_db_pool_connections_closed_total",
			"Connections the pool closed by reason: lifetime (older than the maximum lifetime), idle (idle too long).",
			[]string{"pool", "reason"}, nil),
	}
}

// Add collects p under the label pool=name from the next scrape on; a nil pool, or one added
// already under another name, is skipped.
func (c *PoolCollector) Add(name string, p *pgxpool.Pool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p == nil {
		return
	}
	for _, q := range c.pools {
		if q == p {
			return
		}
	}
	c.pools[name] = p
}

// Describe implements prometheus.Collector.
func (c *PoolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.conns, c.maxConns, c.acquires, c.waited, c.waitSeconds, c.canceled, c.opened, c.closed} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *PoolCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	pools := maps.Clone(c.pools)
	c.mu.Unlock()
	for name, p := range pools {
		s := p.Stat()
		gauge := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append([]string{name}, labels...)...)
		}
		counter := func(d *prometheus.Desc, v float64, labels ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, append([]string{name}, labels...)...)
		}
		gauge(c.conns, float64(s.AcquiredConns()), "acquired")
		gauge(c.conns, float64(s.IdleConns()), "idle")
		gauge(c.conns, float64(s.ConstructingConns()), "constructing")
		gauge(c.maxConns, float64(s.MaxConns()))
		counter(c.acquires, float64(s.AcquireCount()))
		counter(c.waited, float64(s.EmptyAcquireCount()))
		counter(c.waitSeconds, s.EmptyAcquireWaitTime().Seconds())
		counter(c.canceled, float64(s.CanceledAcquireCount()))
		counter(c.opened, float64(s.NewConnsCount()))
		counter(c.closed, float64(s.MaxLifetimeDestroyCount()), "lifetime")
		counter(c.closed, float64(s.MaxIdleDestroyCount()), "idle")
	}
}
