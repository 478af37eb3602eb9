package main

import (
	"context"
	"errors"
	"sync"

	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/integration/webhooks"
)

// errLoopbackWebhooksInProduction: --production with --webhook-allow-loopback.
var errLoopbackWebhooksInProduction = errors.New("production mode refuses --webhook-allow-loopback (DOTMAC_WEBHOOK_ALLOW_LOOPBACK): " +
	"webhooks go only to https URLs on public addresses")

// webhookFlags configure the webhooks (integration/webhooks): the command role registers
// endpoints, the query role lists them and their deliveries, the projector role delivers.
type webhookFlags struct {
	deliver       bool
	allowLoopback bool
}

func (p *webhookFlags) bind(fs *pflag.FlagSet) {
	boolFlag(fs, &p.deliver, "webhooks", "DOTMAC_WEBHOOKS", true,
		"deliver webhooks from the projector role (fan the feed out to the endpoints' outboxes and dispatch them)")
	boolFlag(fs, &p.allowLoopback, "webhook-allow-loopback", "DOTMAC_WEBHOOK_ALLOW_LOOPBACK", false,
		"development and tests only: also allow http:// webhook URLs and loopback addresses (never private ones); refused with --production")
}

// webhookService returns the process's one webhooks.Service, for every role that uses it.
func webhookService(sys *system) (*webhooks.Service, error) {
	sys.webhooksOnce.Do(func() {
		cfg := webhooks.Config{Logger: sys.log.With().Str("component", "webhooks").Logger(), Registerer: sys.registry}
		if sys.flags != nil {
			if sys.flags.webhooks.allowLoopback && sys.flags.key.production {
				sys.webhooksErr = errLoopbackWebhooksInProduction
				return
			}
			cfg.Guard.AllowLoopback = sys.flags.webhooks.allowLoopback
		}
		sys.webhooks, sys.webhooksErr = webhooks.New(sys.pool, sys.store, cfg)
	})
	return sys.webhooks, sys.webhooksErr
}

// startWebhooks runs the fan-out and the dispatcher in the background unless --webhooks is
// off, and returns stop, which waits for the attempts in flight.
func startWebhooks(ctx context.Context, sys *system) (stop func(), err error) {
	if sys.flags != nil && !sys.flags.webhooks.deliver {
		return func() {}, nil
	}
	svc, err := webhookService(sys)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = svc.Run(ctx) })
	return func() { cancel(); wg.Wait() }, nil
}
