package process

import "time"

// WithRouterCloseTimeout returns cfg with the router's close timeout set to d.
func WithRouterCloseTimeout(cfg Config, d time.Duration) Config {
	cfg.closeTimeout = d
	return cfg
}
