package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/internal/pgtest"
)

// TestSignHistoryLeavesTheServerNothingToSign: the history is signed up to its head with the
// key handed to the server under test, whose signer then chains onto it and finds nothing to
// sign: no signing round over the history falls into a measured phase.
func TestSignHistoryLeavesTheServerNothingToSign(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pool := pgtest.Pool(t)
	require.NoError(t, migrateAll(ctx, pool))
	r := &run{pool: pool, cfg: Config{}}
	r.cfg.setDefaults()
	store, err := r.store(ctx)
	require.NoError(t, err)
	defer store.Close()
	sink := NewStoreSink(ctx, store, 4)
	_, err = domainsim.Run(domainsim.Config{Customers: 20, Months: 2, Seed: 3, GraceDays: 14, Workers: 2}, sink)
	require.NoError(t, err)
	require.NoError(t, sink.Close())
	head, err := store.Head(ctx)
	require.NoError(t, err)
	require.Positive(t, head)

	keyFile := filepath.Join(t.TempDir(), "signing.key")
	require.NoError(t, r.signHistory(ctx, keyFile))

	checkpoints := audit.NewCheckpointStore(pool)
	last, ok, err := checkpoints.Last(ctx)
	require.NoError(t, err)
	require.True(t, ok, "a checkpoint was signed")
	assert.Equal(t, head, last.Position, "the newest checkpoint covers the head")

	key, err := audit.LoadSigningKey(keyFile)
	require.NoError(t, err)
	assert.Equal(t, key.ID(), last.KeyID, "signed with the key the server is given")
	server, err := audit.NewSigner(audit.SignerConfig{Store: store, Checkpoints: checkpoints, Key: key})
	require.NoError(t, err)
	signed, err := server.Sign(ctx)
	require.NoError(t, err)
	assert.Empty(t, signed, "the server's signer has nothing left to sign")
}
