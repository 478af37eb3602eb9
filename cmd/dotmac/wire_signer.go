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
//
// It loads the key (--signing-key-file, else the development key under the data dir); with
// --production it refuses to start without a key file or with the development key.
func startSigner(ctx context.Context, sys *system, g *globalFlags, roles []string) (stop func(), err error) {
	if !slices.Contains(roles, roleCommand) && !slices.Contains(roles, roleProjector) {
		return func() {}, nil
	}
	key, source, err := sys.flags.signing.load(g, sys.flags.key.production)
	if err != nil {
		return nil, err
	}
	if source == signingKeyDev {
		sys.log.Warn().Str("key_id", key.ID()).Str("public_key", devSigningKeyFile(g)+".pub").
			Msg("NO SIGNING KEY CONFIGURED: signing checkpoints with a generated development key. Create one with dotmac keys generate and set DOTMAC_SIGNING_KEY_FILE (and --production) for real use.")
	}
	trusted, err := sys.flags.signing.trustedKeys()
	if err != nil {
		return nil, err
	}
	s, err := audit.NewSigner(audit.SignerConfig{Store: sys.store, Checkpoints: audit.NewCheckpointStore(sys.pool), Key: key, TrustedKeys: trusted,
		Interval: sys.flags.signing.interval, Registerer: sys.registry, Logger: sys.log.With().Str("component", "signer").Logger()})
	if err != nil {
		return nil, fmt.Errorf("checkpoint signer: %w", err)
	}
	sys.signer = s
	sys.log.Info().Str("key_id", key.ID()).Str("key", string(source)).Dur("interval", sys.flags.signing.interval).Msg("signing checkpoints of the feed")
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { s.Run(ctx) })
	return func() { cancel(); wg.Wait() }, nil
}
