package main

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/dotmac/ledger/audit"
)

// startSigner signs checkpoints of the feed every --sign-interval, in a process that writes
// (command or projector role: a query-only process may be on a read replica). Every such
// process signs; the table takes one checkpoint after each position, so they never fork the
// chain. stop waits for the signing round in progress.
func startSigner(ctx context.Context, sys *system, key *audit.SigningKey, roles []string) (stop func(), err error) {
	if key == nil || (!slices.Contains(roles, roleCommand) && !slices.Contains(roles, roleProjector)) {
		return func() {}, nil
	}
	s, err := audit.NewSigner(audit.SignerConfig{Store: sys.store, Checkpoints: audit.NewCheckpointStore(sys.pool), Key: key,
		Interval: sys.flags.signing.interval, Registerer: sys.registry, Logger: sys.log.With().Str("component", "signer").Logger()})
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	sys.signer = s
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	return func() { cancel(); wg.Wait() }, nil
}
