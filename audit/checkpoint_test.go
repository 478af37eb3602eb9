package audit_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/internal/promtest"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// anchored is a store with signed checkpoints: a seeded history, a key and a signer.
type anchored struct {
	store  *postgres.Store
	pool   *pgxpool.Pool
	cps    *audit.CheckpointStore
	key    *audit.SigningKey
	signer *audit.Signer
	reg    *prometheus.Registry
}

func newAnchored(t testing.TB, customers, months int) *anchored {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), audit.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	a := &anchored{store: store, pool: pool, cps: audit.NewCheckpointStore(pool), reg: prometheus.NewRegistry()}
	a.key, err = audit.GenerateSigningKey()
	require.NoError(t, err)
	a.signer, err = audit.NewSigner(audit.SignerConfig{Store: store, Checkpoints: a.cps, Key: a.key, Registerer: a.reg})
	require.NoError(t, err)
	if customers > 0 {
		a.seed(t, "demo", customers, months, 42)
	}
	return a
}

func (a *anchored) seed(t testing.TB, tenant string, customers, months int, seed uint64) {
	t.Helper()
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: tenant, Currency: "USD"}},
		Customers: customers, Months: months, Seed: seed, GraceDays: 14})
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(context.Background(), a.store, evs)
	require.NoError(t, err)
}

func (a *anchored) sign(t testing.TB) []audit.Checkpoint {
	t.Helper()
	signed, err := a.signer.Sign(context.Background())
	require.NoError(t, err)
	return signed
}

func (a *anchored) verify(t *testing.T, keys audit.PublicKeys) *audit.Report {
	t.Helper()
	for _, deep := range []bool{true, false} { // stream order and feed order find the same
		r, err := audit.New(a.store).Verify(context.Background(), audit.VerifyOptions{DensePositions: true, Deep: deep,
			Checkpoints: a.cps, PublicKeys: keys})
		require.NoError(t, err)
		if !deep {
			return r
		}
	}
	panic("unreachable")
}

func kinds(r *audit.Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Kind)
	}
	return out
}

func findingOf(t *testing.T, r *audit.Report, kind string) audit.Finding {
	t.Helper()
	for _, f := range r.Findings {
		if f.Kind == kind {
			return f
		}
	}
	t.Fatalf("no %s finding among %v", kind, r.Findings)
	return audit.Finding{}
}

// insiderRewrite does what an insider with the owner role can: disable the append-only
// trigger, rewrite the customer's name in the event at position, recompute the hash of that
// event and of every later event of its stream with the published algorithm (written out
// here, as a 30-line script would), and enable the trigger again.
func insiderRewrite(t *testing.T, pool *pgxpool.Pool, position int64) {
	t.Helper()
	ctx := context.Background()
	_, err := pool.Exec(ctx, `ALTER TABLE es_events DISABLE TRIGGER es_events_no_update_delete`)
	require.NoError(t, err)
	tag, err := pool.Exec(ctx, `UPDATE es_events SET data = regexp_replace(data::text, '"name":"[^"]*"', '"name":"Mallory Forged"')::json WHERE position = $1`, position)
	require.NoError(t, err)
	require.EqualValues(t, 1, tag.RowsAffected())
	var stream string
	var version int64
	require.NoError(t, pool.QueryRow(ctx, `SELECT stream_id, version FROM es_events WHERE position = $1`, position).Scan(&stream, &version))
	var prev []byte
	if version > 1 {
		require.NoError(t, pool.QueryRow(ctx, `SELECT hash FROM es_events WHERE stream_id = $1 AND version = $2`, stream, version-1).Scan(&prev))
	}
	rows, err := pool.Query(ctx, `SELECT position, event_id, version, type, schema_version, data::text, metadata::text
		FROM es_events WHERE stream_id = $1 AND version >= $2 ORDER BY version`, stream, version)
	require.NoError(t, err)
	type row struct {
		pos                 int64
		id                  [16]byte
		version, schema     int64
		typ, data, metadata string
	}
	var all []row
	for rows.Next() {
		var r row
		require.NoError(t, rows.Scan(&r.pos, &r.id, &r.version, &r.typ, &r.schema, &r.data, &r.metadata))
		all = append(all, r)
	}
	require.NoError(t, rows.Err())
	u32 := func(b []byte, n int) []byte { return binary.BigEndian.AppendUint32(b, uint32(n)) } //nolint:gosec // small
	for _, r := range all {
		b := append([]byte{}, prev...)
		b = append(b, "dotmac.event.v1\n"...)
		b = append(u32(b, len(stream)), stream...)
		b = binary.BigEndian.AppendUint64(b, uint64(r.version)) //nolint:gosec // positive
		b = append(b, r.id[:]...)
		b = append(u32(b, len(r.typ)), r.typ...)
		b = u32(b, int(r.schema))
		b = append(u32(b, len(r.data)), r.data...)
		b = append(u32(b, len(r.metadata)), r.metadata...)
		sum := sha256.Sum256(b)
		_, err := pool.Exec(ctx, `UPDATE es_events SET hash = $2 WHERE position = $1`, r.pos, sum[:])
		require.NoError(t, err)
		prev = sum[:]
	}
	_, err = pool.Exec(ctx, `ALTER TABLE es_events ENABLE TRIGGER es_events_no_update_delete`)
	require.NoError(t, err)
}

// registered returns the position of the n-th CustomerRegistered event after `after` whose
// stream has later events.
func registered(t *testing.T, pool *pgxpool.Pool, after int64) int64 {
	t.Helper()
	var pos int64
	require.NoError(t, pool.QueryRow(context.Background(), `
		SELECT e.position FROM es_events e WHERE e.type = 'CustomerRegistered' AND e.position > $1 AND e.data::text LIKE '%"name":%'
		AND EXISTS (SELECT 1 FROM es_events n WHERE n.stream_id = e.stream_id AND n.version = e.version + 1)
		ORDER BY e.position LIMIT 1 OFFSET 1`, after).Scan(&pos))
	return pos
}

// TestSignedCheckpointsCatchRecomputedForgery is the insider's forgery of issue 16: a
// customer's name rewritten and the hashes recomputed passes the hash-chain checks, and the
// signed checkpoints name the forged event.
func TestSignedCheckpointsCatchRecomputedForgery(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 8, 3)
	first := a.sign(t)
	require.Len(t, first, 1)
	a.seed(t, "other", 4, 2, 7)
	second := a.sign(t)
	require.Len(t, second, 1)
	keys := a.key.PublicKeys()

	clean := a.verify(t, keys)
	require.True(t, clean.OK, "findings: %v", clean.Findings)
	require.NotNil(t, clean.Checkpoints)
	assert.Equal(t, 2, clean.Checkpoints.Checkpoints)
	assert.Equal(t, second[0].Position, clean.Checkpoints.SignedThrough)
	assert.Zero(t, clean.Checkpoints.UnsignedEvents)
	assert.True(t, clean.Checkpoints.SignaturesChecked)
	assert.Contains(t, strings.Join(clean.Checks, "; "), "checkpoint signatures")

	forged := registered(t, a.pool, 0)
	require.Less(t, eventstore.Position(forged), first[0].Position)
	insiderRewrite(t, a.pool, forged)

	// The hash chains alone see nothing: this is what an insider's rewrite got past.
	plain, err := audit.New(a.store).Verify(context.Background(), audit.VerifyOptions{DensePositions: true, Deep: true})
	require.NoError(t, err)
	assert.True(t, plain.OK, "the recomputed chain is consistent: %v", plain.Findings)
	assert.Contains(t, plain.NotChecked, audit.NotChecked{Check: "signed checkpoints", RunBy: "the signed checkpoints (the database, or an export with --export)"})

	// With the checkpoints and only the public key, the forged event is named, in the first
	// span only: the second checkpoint chains from the first's signed digest and still holds.
	r := a.verify(t, keys)
	require.False(t, r.OK)
	assert.Equal(t, []string{audit.FindingForgedEvent}, kinds(r), "%v", r.Findings)
	f := findingOf(t, r, audit.FindingForgedEvent)
	assert.Equal(t, eventstore.Position(forged), f.Position, f.String())
	assert.NotEmpty(t, f.Expected)
	assert.NotEqual(t, f.Expected, f.Stored)
	t.Log(f.String())

	// Without the public key the digests are still compared, and the report says the
	// signatures were not checked.
	unkeyed := a.verify(t, nil)
	assert.Equal(t, eventstore.Position(forged), findingOf(t, unkeyed, audit.FindingForgedEvent).Position)
	assert.Contains(t, unkeyed.NotChecked, audit.NotChecked{Check: "checkpoint signatures: the checkpoints themselves could have been rewritten", RunBy: "--public-key"})
	assert.False(t, unkeyed.Checkpoints.SignaturesChecked)

	// If the insider also rewrote the checkpoint's marks, the forgery is still caught, and
	// the report names the range it lies in, no more. (The byte is flipped, not zeroed: a
	// byte that was zero already, 1 run in 256, left the marks as they were.)
	tamper(t, a.pool, `UPDATE audit_checkpoints SET marks = set_byte(marks, 19, get_byte(marks, 19) # 255) WHERE position = $1`, int64(first[0].Position))
	ranged := a.verify(t, keys)
	m := findingOf(t, ranged, audit.FindingCheckpointMismatch)
	assert.Equal(t, first[0].Position, m.Position)
	assert.Contains(t, m.Detail, "positions 1 to ")
}

// TestUncoveredForgeryIsReportedHonestly: events after the newest checkpoint are covered by
// no signature, and verify says so rather than vouching for them.
func TestUncoveredForgeryIsReportedHonestly(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 4, 2)
	signed := a.sign(t)
	require.Len(t, signed, 1)
	a.seed(t, "other", 4, 2, 9)
	insiderRewrite(t, a.pool, registered(t, a.pool, int64(signed[0].Position)))
	r := a.verify(t, a.key.PublicKeys())
	assert.True(t, r.OK, "nothing signed covers the forgery: %v", r.Findings)
	head, err := a.store.Head(context.Background())
	require.NoError(t, err)
	unsigned := int64(head - signed[0].Position)
	assert.Equal(t, unsigned, r.Checkpoints.UnsignedEvents)
	assert.Contains(t, r.NotChecked, audit.NotChecked{
		Check: fmt.Sprintf("the %d event(s) after position %d, which no signed checkpoint covers yet", unsigned, signed[0].Position),
		RunBy: "dotmac audit sign (or the server's next signing), then verify again"})

	// A store with no checkpoint at all says so too.
	empty := newAnchored(t, 2, 1)
	r = empty.verify(t, empty.key.PublicKeys())
	assert.True(t, r.OK)
	assert.Contains(t, r.NotChecked, audit.NotChecked{Check: "signed checkpoints (none are stored)",
		RunBy: "a server with a signing key (--signing-key-file), or dotmac audit sign"})
}

// TestCheckpointTampering: a forged signature, a checkpoint signed by another key, a row
// edited in the database and a removed checkpoint are each reported.
func TestCheckpointTampering(t *testing.T) {
	t.Parallel()
	other, err := audit.GenerateSigningKey()
	require.NoError(t, err)
	tests := []struct {
		name   string
		tamper func(t *testing.T, a *anchored, cps []audit.Checkpoint)
		kind   string
	}{
		{"forged signature", func(t *testing.T, a *anchored, cps []audit.Checkpoint) {
			tamper(t, a.pool, `UPDATE audit_checkpoints SET signature = sha512('forged'::bytea) WHERE position = $1`, int64(cps[0].Position))
		}, audit.FindingCheckpointSignature},
		{"signed by another key", func(t *testing.T, a *anchored, cps []audit.Checkpoint) {
			// The insider re-signs the newest checkpoint with a key of their own.
			forged := cps[1]
			forged.KeyID = other.ID()
			forged.Signature = signWith(other, &forged)
			tamper(t, a.pool, `UPDATE audit_checkpoints SET key_id = $2, signature = decode($3, 'hex') WHERE position = $1`,
				int64(forged.Position), forged.KeyID, forged.Signature)
		}, audit.FindingCheckpointSignature},
		{"row edited", func(t *testing.T, a *anchored, cps []audit.Checkpoint) {
			tamper(t, a.pool, `UPDATE audit_checkpoints SET signed_at = signed_at - interval '1 day' WHERE position = $1`, int64(cps[0].Position))
		}, audit.FindingCheckpointSignature},
		{"checkpoint removed", func(t *testing.T, a *anchored, cps []audit.Checkpoint) {
			tamper(t, a.pool, `DELETE FROM audit_checkpoints WHERE position = $1`, int64(cps[0].Position))
		}, audit.FindingCheckpointChain},
		{"signed events deleted", func(t *testing.T, a *anchored, cps []audit.Checkpoint) {
			tamper(t, a.pool, `DELETE FROM es_events WHERE position > $1`, int64(cps[0].Position))
		}, audit.FindingCheckpointBeyondHead},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a := newAnchored(t, 3, 2)
			cps := a.sign(t)
			a.seed(t, "other", 2, 1, 5)
			cps = append(cps, a.sign(t)...)
			require.Len(t, cps, 2)
			tc.tamper(t, a, cps)
			r := a.verify(t, a.key.PublicKeys())
			require.False(t, r.OK)
			f := findingOf(t, r, tc.kind)
			t.Log(f.String())
		})
	}
}

// signWith signs c's message with key, as the insider's own tooling would.
func signWith(key *audit.SigningKey, c *audit.Checkpoint) string {
	return audit.SignForTest(key, c.Message())
}

// TestSignerSignsOnlyWhenTheHeadMoved: a signing round with nothing new signs nothing; one
// after new events signs them, chained to the one before; metrics show the newest.
func TestSignerSignsOnlyWhenTheHeadMoved(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 0, 0)
	assert.Empty(t, a.sign(t), "an empty feed has nothing to sign")
	a.seed(t, "demo", 3, 1, 1)
	first := a.sign(t)
	require.Len(t, first, 1)
	assert.Zero(t, first[0].PrevPosition)
	assert.Empty(t, a.sign(t), "the head has not moved")
	a.seed(t, "other", 2, 1, 2)
	second := a.sign(t)
	require.Len(t, second, 1)
	assert.Equal(t, first[0].Position, second[0].PrevPosition)
	assert.Equal(t, first[0].Digest, second[0].PrevDigest)
	assert.InDelta(t, float64(second[0].Position), promtest.Value(t, a.reg, "dotmac_checkpoint_last_signed_position"), 0)
	assert.InDelta(t, float64(second[0].SignedAt.Unix()), promtest.Value(t, a.reg, "dotmac_checkpoint_last_signed_timestamp_seconds"), 1)
	assert.True(t, a.verify(t, a.key.PublicKeys()).OK)

	// Sign returns the checkpoints without their marks: they are stored with them (a first run
	// over a million unsigned events held 72 MB of them until its last span was signed).
	for _, c := range append(first, second...) {
		assert.Empty(t, c.Marks, "checkpoint at %d returned with its marks", c.Position)
		marks, err := a.cps.Marks(context.Background(), c.Position)
		require.NoError(t, err)
		assert.Len(t, marks, c.Events*40, "the stored marks of the checkpoint at %d", c.Position)
	}
}

// TestSignersRace: several processes signing the same database at once leave one chain.
func TestSignersRace(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 6, 2)
	signers := []*audit.Signer{a.signer}
	for range 3 {
		s, err := audit.NewSigner(audit.SignerConfig{Store: a.store, Checkpoints: a.cps, Key: a.key})
		require.NoError(t, err)
		signers = append(signers, s)
	}
	var wg sync.WaitGroup
	for round := range 3 {
		a.seed(t, "t"+string(rune('a'+round)), 2, 1, uint64(round))
		for _, s := range signers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Sign(context.Background())
				assert.NoError(t, err)
			}()
		}
		wg.Wait()
	}
	r := a.verify(t, a.key.PublicKeys())
	assert.True(t, r.OK, "findings: %v", r.Findings)
	assert.Zero(t, r.Checkpoints.UnsignedEvents)
}

// TestSignerRefusesToChainOntoTamperedCheckpoints: checkpoints removed from the table, or a
// newest checkpoint whose signature fails, stop the signer instead of being signed over.
func TestSignerRefusesToChainOntoTamperedCheckpoints(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 3, 1)
	first := a.sign(t)
	a.seed(t, "other", 2, 1, 3)
	second := a.sign(t)
	require.Len(t, second, 1)
	tamper(t, a.pool, `DELETE FROM audit_checkpoints WHERE position = $1`, int64(second[0].Position))
	_, err := a.signer.Sign(context.Background())
	require.ErrorIs(t, err, audit.ErrCheckpointsRemoved)

	tamper(t, a.pool, `UPDATE audit_checkpoints SET digest = sha256('x'::bytea) WHERE position = $1`, int64(first[0].Position))
	fresh, err := audit.NewSigner(audit.SignerConfig{Store: a.store, Checkpoints: a.cps, Key: a.key})
	require.NoError(t, err)
	_, err = fresh.Sign(context.Background())
	require.ErrorIs(t, err, audit.ErrBadSignature)
}

// TestSignerRun signs at its interval until its context ends.
func TestSignerRun(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 2, 1)
	s, err := audit.NewSigner(audit.SignerConfig{Store: a.store, Checkpoints: a.cps, Key: a.key, Interval: time.Millisecond})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for {
		last, ok, err := a.cps.Last(context.Background())
		require.NoError(t, err)
		if ok {
			head, err := a.store.Head(context.Background())
			require.NoError(t, err)
			assert.Equal(t, head, last.Position)
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestSigningKeyFiles: the private key file is 0600 and refused when others can read it;
// the public key is PEM any tool reads; an existing key is never overwritten.
func TestSigningKeyFiles(t *testing.T) {
	t.Parallel()
	key, err := audit.GenerateSigningKey()
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "signing.key")
	require.NoError(t, key.WriteKeyFiles(path))
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	loaded, err := audit.LoadSigningKey(path)
	require.NoError(t, err)
	assert.Equal(t, key.ID(), loaded.ID())
	pub, err := audit.LoadPublicKeys(path + ".pub")
	require.NoError(t, err)
	assert.Equal(t, []string{key.ID()}, pub.IDs())
	pemText, err := os.ReadFile(path + ".pub")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(pemText), "-----BEGIN PUBLIC KEY-----"))

	assert.Error(t, key.WriteKeyFiles(path), "an existing key is not overwritten")
	require.NoError(t, os.Chmod(path, 0o644)) //nolint:gosec // the point of the test
	_, err = audit.LoadSigningKey(path)
	assert.ErrorIs(t, err, audit.ErrKeyFileMode)
	_, err = audit.LoadPublicKeys(path)
	assert.Error(t, err, "a private key is not a public key")
}

// TestExportCarriesSignedCheckpoints: an export holds the events its rows come from and the
// checkpoints that signed them, and an auditor with only the public key finds any change to
// its rows, events or checkpoints, even with the manifest fixed up to match.
func TestExportCarriesSignedCheckpoints(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 10, 4)
	require.NotEmpty(t, a.sign(t))
	period, err := domain.ParsePeriod("2025-02")
	require.NoError(t, err)
	dir := t.TempDir()
	m, err := audit.New(a.store).WithCheckpoints(a.cps).Export(context.Background(), tenant(t), period, dir)
	require.NoError(t, err)
	assert.Positive(t, m.SignedCheckpoints)
	require.Len(t, m.Files, 8)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, e := range entries {
		info, err := e.Info()
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), e.Name())
	}
	keys := a.key.PublicKeys()
	v, err := audit.VerifyExport(dir, keys)
	require.NoError(t, err)
	assert.True(t, v.OK, "problems: %v", v.Problems)
	assert.Empty(t, v.NotProven)
	assert.Positive(t, v.Events)
	assert.Equal(t, v.Events, v.Signed)

	unkeyed, err := audit.VerifyExport(dir, nil)
	require.NoError(t, err)
	assert.True(t, unkeyed.OK)
	require.NotEmpty(t, unkeyed.NotProven)
	assert.Contains(t, unkeyed.NotProven[0], "--public-key")

	bare := t.TempDir() // an export made without the checkpoints proves nothing, and says so
	_, err = audit.New(a.store).Export(context.Background(), tenant(t), period, bare)
	require.NoError(t, err)
	plain, err := audit.VerifyExport(bare, nil)
	require.NoError(t, err)
	assert.True(t, plain.OK, "problems: %v", plain.Problems)
	require.Len(t, plain.NotProven, 1)
	assert.Contains(t, plain.NotProven[0], "carries no signed checkpoints")
	// With public keys given, an export without proof (its proof files removed and the
	// manifest fixed up) is a finding, not a pass.
	stripped, err := audit.VerifyExport(bare, keys)
	require.NoError(t, err)
	assert.False(t, stripped.OK)
	assert.Contains(t, strings.Join(stripped.Problems, "\n"), "public keys were given but the export carries no signed checkpoints")

	other, err := audit.GenerateSigningKey()
	require.NoError(t, err)
	wrong, err := audit.VerifyExport(dir, other.PublicKeys())
	require.NoError(t, err)
	assert.False(t, wrong.OK)

	tests := []struct {
		name, file, want string
		edit             func(t *testing.T, b []byte) []byte
	}{
		{"journal row", "journal.csv", "journal.csv: row", func(t *testing.T, b []byte) []byte {
			lines := strings.SplitN(string(b), "\n", 3)
			f := strings.Split(lines[1], ",")
			f[4] = "forged memo"
			lines[1] = strings.Join(f, ",")
			return []byte(strings.Join(lines, "\n"))
		}},
		{"event rewritten and rehashed", audit.EventsFileName, "is not the one signed", rehashFirstEvent},
		{"signed event duplicated", audit.EventsFileName, "strictly increasing", func(t *testing.T, b []byte) []byte {
			first, _, _ := strings.Cut(string(b), "\n")
			return append([]byte(first+"\n"), b...)
		}},
		{"checkpoint edited", audit.CheckpointsFileName, "does not verify", func(t *testing.T, b []byte) []byte {
			return []byte(strings.Replace(string(b), `"events":`, `"events":1`, 1))
		}},
		{"checkpoint marks edited", audit.CheckpointsFileName, "do not give its signed digest", func(t *testing.T, b []byte) []byte {
			i := strings.Index(string(b), `"marks":"`) + len(`"marks":"`) + 20
			out := append([]byte{}, b...)
			out[i] = map[byte]byte{'0': '1'}[out[i]] | '0'
			if out[i] == b[i] {
				out[i] = 'f'
			}
			return out
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			copyDir := t.TempDir()
			for _, e := range entries {
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				require.NoError(t, err)
				require.NoError(t, os.WriteFile(filepath.Join(copyDir, e.Name()), b, 0o600))
			}
			rewriteExportFile(t, copyDir, tc.file, func(b []byte) []byte { return tc.edit(t, b) })
			problems, err := audit.CheckExport(copyDir)
			require.NoError(t, err)
			require.Empty(t, problems, "the manifest was fixed up: only the signatures can tell")
			v, err := audit.VerifyExport(copyDir, keys)
			require.NoError(t, err)
			require.False(t, v.OK)
			assert.Contains(t, strings.Join(v.Problems, "\n"), tc.want)
			t.Log(v.Problems)
		})
	}
}

// rewriteExportFile edits an export's file and fixes the manifest's size and SHA-256 for it.
func rewriteExportFile(t *testing.T, dir, name string, edit func([]byte) []byte) {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b = edit(b)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	mpath := filepath.Join(dir, audit.ManifestName)
	raw, err := os.ReadFile(mpath)
	require.NoError(t, err)
	var m audit.Manifest
	require.NoError(t, json.Unmarshal(raw, &m))
	for i := range m.Files {
		if m.Files[i].Name == name {
			sum := sha256.Sum256(b)
			m.Files[i].SHA256, m.Files[i].Bytes = hex.EncodeToString(sum[:]), int64(len(b))
			if strings.HasSuffix(name, ".jsonl") {
				m.Files[i].Rows = strings.Count(string(b), "\n")
			}
		}
	}
	raw, err = json.Marshal(m)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(mpath, raw, 0o600))
}

// rehashFirstEvent changes an amount in the first exported event and recomputes its hash.
func rehashFirstEvent(t *testing.T, b []byte) []byte {
	t.Helper()
	lines := strings.SplitN(string(b), "\n", 2)
	var e audit.ExportedEvent
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &e))
	forged := strings.Replace(e.Data, `"amount":"`, `"amount":"9`, 1)
	require.NotEqual(t, e.Data, forged)
	e.Data = forged
	id, err := uuid.Parse(e.EventID)
	require.NoError(t, err)
	prev, err := hex.DecodeString(e.PrevHash)
	require.NoError(t, err)
	e.Hash = hex.EncodeToString(eventstore.ChainHash(prev, &eventstore.Envelope{ID: id, StreamID: e.StreamID, Version: e.Version,
		Type: e.Type, SchemaVersion: e.SchemaVersion, Data: []byte(e.Data), RawMetadata: []byte(e.Metadata)}))
	line, err := json.Marshal(e)
	require.NoError(t, err)
	return []byte(string(line) + "\n" + lines[1])
}

// TestSignerOverAFeedOnlyStore: a store that reads only in feed order (KurrentDB) is signed
// and verified the same way, from ReadAll's positions and hashes.
func TestSignerOverAFeedOnlyStore(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 3, 1)
	s, err := audit.NewSigner(audit.SignerConfig{Store: feedOnly{a.store}, Checkpoints: a.cps, Key: a.key})
	require.NoError(t, err)
	signed, err := s.Sign(context.Background())
	require.NoError(t, err)
	require.Len(t, signed, 1)
	r, err := audit.New(feedOnly{a.store}).Verify(context.Background(), audit.VerifyOptions{Checkpoints: a.cps, PublicKeys: a.key.PublicKeys()})
	require.NoError(t, err)
	assert.True(t, r.OK, "findings: %v", r.Findings)
	assert.Equal(t, signed[0].Position, r.Checkpoints.SignedThrough)
	assert.Equal(t, a.verify(t, a.key.PublicKeys()).Checkpoints, r.Checkpoints, "the same checkpoint as a stream-order store's")
}

// TestVerifyWithoutTheCheckpointTable: a database no signer has migrated has no checkpoints,
// which verify reports instead of failing: it reads, never migrates.
func TestVerifyWithoutTheCheckpointTable(t *testing.T) {
	t.Parallel()
	store, pool := seeded(t, 2, 1)
	r, err := audit.New(store).Verify(context.Background(), audit.VerifyOptions{DensePositions: true, Checkpoints: audit.NewCheckpointStore(pool)})
	require.NoError(t, err)
	assert.True(t, r.OK)
	assert.Contains(t, r.NotChecked, audit.NotChecked{Check: "signed checkpoints (none are stored)",
		RunBy: "a server with a signing key (--signing-key-file), or dotmac audit sign"})
}

// signingMeanwhile is a checkpoint source under which the server appends and signs between
// verify reading the head and reading the checkpoints.
type signingMeanwhile struct {
	*audit.CheckpointStore
	t *testing.T
	a *anchored
}

func (s signingMeanwhile) Checkpoints(ctx context.Context, upto eventstore.Position) ([]audit.Checkpoint, error) {
	s.a.seed(s.t, "late", 2, 1, 11)
	require.Len(s.t, s.a.sign(s.t), 1)
	return s.CheckpointStore.Checkpoints(ctx, upto)
}

// TestCheckpointSignedDuringVerification: a checkpoint signed while verify runs, beyond the
// head it verifies up to, is neither a deletion nor a mismatch; its events count as unsigned.
func TestCheckpointSignedDuringVerification(t *testing.T) {
	t.Parallel()
	a := newAnchored(t, 3, 1)
	first := a.sign(t)
	require.Len(t, first, 1)
	a.seed(t, "other", 2, 1, 4) // unsigned when verify starts
	head, err := a.store.Head(context.Background())
	require.NoError(t, err)
	r, err := audit.New(a.store).Verify(context.Background(), audit.VerifyOptions{DensePositions: true,
		Checkpoints: signingMeanwhile{CheckpointStore: a.cps, t: t, a: a}, PublicKeys: a.key.PublicKeys()})
	require.NoError(t, err)
	assert.True(t, r.OK, "findings: %v", r.Findings)
	assert.Equal(t, head, r.Head)
	assert.Equal(t, 1, r.Checkpoints.Checkpoints)
	assert.Equal(t, first[0].Position, r.Checkpoints.SignedThrough)
	assert.Equal(t, int64(head-first[0].Position), r.Checkpoints.UnsignedEvents)
}
