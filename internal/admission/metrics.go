package admission

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are a controller's Prometheus series.
type metrics struct {
	waitSeconds prometheus.Counter
	yields      prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, c *Controller) (*metrics, error) {
	m := &metrics{
		waitSeconds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dotmac_elastic_wait_seconds_total",
			Help: "Time elastic work (billing runs' groups) spent waiting for its allowance, summed over its units.",
		}),
		yields: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "dotmac_elastic_yields_total",
			Help: "Units of elastic work that waited for their allowance before starting.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	locked := func(f func() float64) func() float64 {
		return func() float64 {
			c.mu.Lock()
			defer c.mu.Unlock()
			c.reconsider(c.cfg.Now())
			return f()
		}
	}
	for _, col := range []prometheus.Collector{m.waitSeconds, m.yields,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dotmac_elastic_allowance",
			Help: "Units of elastic work allowed at once now (its whole part)."},
			locked(func() float64 { return c.allowance })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dotmac_elastic_allowance_max",
			Help: "Units of elastic work allowed at once when the foreground is quiet."},
			func() float64 { return float64(c.cfg.Max) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dotmac_elastic_running",
			Help: "Units of elastic work running now."},
			locked(func() float64 { return float64(c.running) })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dotmac_elastic_foreground_p99_seconds",
			Help: "The foreground requests' p99 of the last interval the allowance was reconsidered over (0: none)."},
			locked(func() float64 { return c.lastP99.Seconds() })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "dotmac_elastic_foreground_target_seconds",
			Help: "The foreground p99 elastic work yields to keep."},
			func() float64 { return c.cfg.Target.Seconds() }),
	} {
		if err := reg.Register(col); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// waited counts time a unit waited for its allowance.
func (m *metrics) waited(d time.Duration) {
	if d > 0 {
		m.waitSeconds.Add(d.Seconds())
	}
}
