package main

import (
	"context"
	"sync"

	"github.com/spf13/pflag"

	"github.com/dotmac/ledger/integration/forwarder"
)

// forwardFlags configure the forwarder of integration events (integration/forwarder) that
// the projector role runs when --forward-to names a broker.
type forwardFlags struct {
	to string
}

func (p *forwardFlags) bind(fs *pflag.FlagSet) {
	stringFlag(fs, &p.to, "forward-to", "DOTMAC_FORWARD_TO", "",
		"publish integration events to this broker (projector role): nats://host:4222, redis://host:6379 or amqp://user:pass@host:5672/, "+
			"parameters in docs/integration-events.md; empty: off")
}

// startForwarder starts the forwarder in the background when --forward-to is set, adds its
// readiness check (failing while the broker fails) and returns stop, which waits for it to
// finish its page. The forwarder's lease makes one process of all those configured forward.
func startForwarder(ctx context.Context, sys *system) (stop func(), err error) {
	if sys.flags == nil || sys.flags.forward.to == "" {
		return func() {}, nil
	}
	t, err := forwarder.ParseTarget(sys.flags.forward.to)
	if err != nil {
		return nil, err
	}
	log := sys.log.With().Str("component", "forwarder").Str("sink", t.Kind).Logger()
	f, err := forwarder.New(sys.pool, sys.store, t.Dial, forwarder.Config{Name: t.Kind, Prefix: t.Prefix,
		Registerer: sys.registry, Logger: log})
	if err != nil {
		return nil, err
	}
	sys.health.Add("forwarder", f.Ready)
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = f.Run(ctx) })
	log.Info().Str("to", t.Redacted).Str("topics", t.Prefix+".<tenant>.<type>").Msg("forwarding integration events")
	return func() { cancel(); wg.Wait() }, nil
}
