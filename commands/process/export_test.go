package process

import "time"

// WithRouterCloseTimeout returns cfg with the router's close timeout set to d.
func WithRouterCloseTimeout(cfg Config, d time.Duration) Config {
	cfg.closeTimeout = d
	return cfg
}

// WithBeforeSend returns cfg with fn called before each command the managers send; an error
// from fn fails that send.
func WithBeforeSend(cfg Config, fn func(cmd any) error) Config {
	cfg.beforeSend = fn
	return cfg
}
