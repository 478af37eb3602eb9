package audit_test

import (
	"context"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/internal/promtest"
)

// TestSignerRefusesAForgedNewestCheckpoint: a row the runtime role inserts after the newest
// checkpoint, naming a key the signer does not know, far past the head and dated in the
// future, is refused and counted instead of silently ending all signing and making the
// last-signed metrics look current.
func TestSignerRefusesAForgedNewestCheckpoint(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 3, 1)
	first := a.sign(t)
	require.NotEmpty(t, first)
	last := first[len(first)-1]
	other, err := audit.GenerateSigningKey()
	require.NoError(t, err)
	forged := audit.Checkpoint{Position: 1 << 40, PrevPosition: last.Position, PrevDigest: last.Digest,
		Digest: strings.Repeat("ab", sha256.Size), Events: 1, SignedAt: time.Now().Add(24 * 365 * time.Hour).UTC().Truncate(time.Microsecond),
		KeyID: other.ID(), Signature: strings.Repeat("cd", 64), Marks: strings.Repeat("00", 40)}
	require.NoError(t, a.cps.Insert(context.Background(), &forged))
	a.seed(t, "other", 2, 1, 3)

	signed, err := a.signer.Sign(context.Background())
	require.ErrorIs(t, err, audit.ErrBadSignature)
	assert.Empty(t, signed)
	assert.InDelta(t, 1, promtest.Value(t, a.reg, "dotmac_checkpoint_sign_errors_total"), 0)
	assert.InDelta(t, float64(last.Position), promtest.Value(t, a.reg, "dotmac_checkpoint_last_signed_position"), 0)
	assert.InDelta(t, float64(last.SignedAt.UnixNano())/1e9, promtest.Value(t, a.reg, "dotmac_checkpoint_last_signed_timestamp_seconds"), 1e-3)
}

// TestSignerChainsOntoATrustedKeysCheckpoint: checkpoints signed by a key rotated out are
// refused unless given as TrustedKeys, then chained onto; a checkpoint past the head is refused.
func TestSignerChainsOntoATrustedKeysCheckpoint(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 3, 1)
	first := a.sign(t)
	newKey, err := audit.GenerateSigningKey()
	require.NoError(t, err)
	untrusting, err := audit.NewSigner(audit.SignerConfig{Store: a.store, Checkpoints: a.cps, Key: newKey})
	require.NoError(t, err)
	a.seed(t, "other", 2, 1, 3)
	_, err = untrusting.Sign(context.Background())
	require.ErrorIs(t, err, audit.ErrBadSignature)

	rotated, err := audit.NewSigner(audit.SignerConfig{Store: a.store, Checkpoints: a.cps, Key: newKey, TrustedKeys: a.key.PublicKeys()})
	require.NoError(t, err)
	second, err := rotated.Sign(context.Background())
	require.NoError(t, err)
	require.Len(t, second, 1)
	assert.Equal(t, first[len(first)-1].Position, second[0].PrevPosition)

	tamper(t, a.pool, `DELETE FROM es_events WHERE position > $1`, int64(first[len(first)-1].Position))
	_, err = rotated.Sign(context.Background())
	require.ErrorIs(t, err, audit.ErrCheckpointAheadOfHead)
}
