package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// TestKeysGenerate: the private key file is 0600, the public key PEM, the key id printed, and
// an existing key is never overwritten.
func TestKeysGenerate(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "signing.key")
	out, code := runCLI(t, "keys", "generate", path)
	require.Equal(t, 0, code, out)
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm())
	pub, err := os.ReadFile(path + ".pub") // #nosec G304 -- the test's own file
	require.NoError(t, err)
	assert.Contains(t, out, string(pub))
	assert.Contains(t, out, "key id:")
	out, code = runCLI(t, "keys", "generate", path)
	assert.Equal(t, 1, code, "an existing key is kept: %s", out)
}

// TestProductionRefusesTheDevelopmentSigningKey: serve --production needs a signing key file
// and refuses the generated development key, also copied elsewhere.
func TestProductionRefusesTheDevelopmentSigningKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	dev, err := devSigningKey(filepath.Join(dir, "dev-signing-key"))
	require.NoError(t, err)
	copied := filepath.Join(t.TempDir(), "copied.key")
	require.NoError(t, os.WriteFile(copied, dev.PrivatePEM(), 0o600))
	own := filepath.Join(t.TempDir(), "own.key")
	_, code := runCLI(t, "keys", "generate", own)
	require.Equal(t, 0, code)
	dbURL := pgtest.SchemaURL(t)
	run := func(args ...string) error {
		root, _ := newRoot()
		root.SetOut(&strings.Builder{})
		root.SetErr(&strings.Builder{})
		root.SetArgs(append([]string{"serve", "--production", "--data-dir", dir, "--jwt-public-key", "", "--log-level", "warn",
			"--jwt-secret", strings.Repeat("production-secret-", 3), "--database-url", dbURL}, args...))
		return root.Execute()
	}
	assert.ErrorIs(t, run("--signing-key-file", ""), errNoSigningKeyInProduction)
	assert.ErrorIs(t, run("--signing-key-file", filepath.Join(dir, "dev-signing-key")), errDevSigningKeyInProduction)
	assert.ErrorIs(t, run("--signing-key-file", copied), errDevSigningKeyInProduction)

	g := &globalFlags{dataDir: dataDir{path: dir}}
	key, source, err := (&signingFlags{keyFile: own}).load(g, true)
	require.NoError(t, err, "a key of its own is accepted")
	assert.Equal(t, signingKeyFromFile, source)
	assert.NotEqual(t, dev.ID(), key.ID())
	key, source, err = (&signingFlags{}).load(g, false)
	require.NoError(t, err, "outside production the development key is used")
	assert.Equal(t, signingKeyDev, source)
	assert.Equal(t, dev.ID(), key.ID())
}

// TestAuditSignVerifyAndExport walks what an operator and an auditor do: sign, verify with
// the public key, export and verify the export with the public key alone; then an insider's
// rewrite with recomputed hashes, which verify names by position.
func TestAuditSignVerifyAndExport(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.SchemaURL(t)
	dataDir := t.TempDir()
	db := []string{"--database-url", dbURL, "--data-dir", dataDir, "--log-level", "warn"}
	out, code := runCLI(t, append([]string{"migrate", "up"}, db...)...)
	require.Equal(t, 0, code, out)
	pool, store := seedStore(t, dbURL)
	key := filepath.Join(t.TempDir(), "signing.key")
	_, code = runCLI(t, "keys", "generate", key)
	require.Equal(t, 0, code)
	cli := func(args ...string) (string, int) { return runCLI(t, append(args, db...)...) }

	out, code = cli("audit", "verify", "--skip-drift")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "signed checkpoints (none are stored) (a server with a signing key (--signing-key-file), or dotmac audit sign)")

	out, code = cli("audit", "sign", "--signing-key-file", key)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "signed positions 1-")
	out, code = cli("audit", "sign", "--signing-key-file", key)
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "nothing to sign")

	out, code = cli("audit", "verify", "--skip-drift", "--public-key", key+".pub")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "signed checkpoints: 1 through position")
	assert.Contains(t, out, "signatures checked: true")
	out, code = cli("audit", "verify", "--skip-drift")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "checkpoint signatures: the checkpoints themselves could have been rewritten (--public-key)")

	export := filepath.Join(t.TempDir(), "export")
	out, code = cli("audit", "export", "--tenant", "demo", "--period", "2025-02", "--out", export)
	require.Equal(t, 0, code, out)
	out, code = runCLI(t, "audit", "verify", "--export", export, "--public-key", key+".pub")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "OK: the rows are those the signed events give")
	journal := filepath.Join(export, "journal.csv")
	b, err := os.ReadFile(journal) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(journal, []byte(strings.Replace(string(b), "Accounts receivable", "Accounts forged", 1)), 0o600))
	out, code = runCLI(t, "audit", "verify", "--export", export, "--public-key", key+".pub")
	assert.Equal(t, 2, code, out)

	forged := rewriteName(t, pool, store)
	out, code = cli("audit", "verify", "--skip-drift", "--public-key", key+".pub")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "forged_event at position "+strconv.FormatInt(forged, 10)+":")
	assert.Contains(t, out, "1 finding(s)", "the hash chains, recomputed, see nothing: only the signed checkpoint does")
}

// seedStore appends a generated history for tenant demo to the database.
func seedStore(t *testing.T, dbURL string) (*pgxpool.Pool, *postgres.Store) {
	t.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "demo", Currency: "USD"}},
		Customers: 6, Months: 3, Seed: 42, GraceDays: 14})
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(ctx, store, evs)
	require.NoError(t, err)
	return pool, store
}

// rewriteName is the insider's forgery as the owner role: the trigger disabled, a customer's
// name rewritten, the hashes of its stream recomputed with the published ChainHash, the
// trigger enabled again. It returns the forged position.
func rewriteName(t *testing.T, pool *pgxpool.Pool, store *postgres.Store) int64 {
	t.Helper()
	ctx := context.Background()
	var pos int64
	var stream string
	require.NoError(t, pool.QueryRow(ctx, `SELECT position, stream_id FROM es_events WHERE type = 'CustomerRegistered' ORDER BY position LIMIT 1 OFFSET 2`).Scan(&pos, &stream))
	_, err := pool.Exec(ctx, `ALTER TABLE es_events DISABLE TRIGGER es_events_no_update_delete`)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE es_events SET data = regexp_replace(data::text, '"name":"[^"]*"', '"name":"Mallory"')::json WHERE position = $1`, pos)
	require.NoError(t, err)
	envs, err := store.ReadStream(ctx, stream, 1, eventstore.Forwards, eventstore.MaxReadLimit)
	require.NoError(t, err)
	var prev []byte
	for i := range envs {
		h := eventstore.ChainHash(prev, &envs[i])
		_, err = pool.Exec(ctx, `UPDATE es_events SET hash = $2 WHERE position = $1`, int64(envs[i].Position), h) //nolint:gosec // small
		require.NoError(t, err)
		prev = h
	}
	_, err = pool.Exec(ctx, `ALTER TABLE es_events ENABLE TRIGGER es_events_no_update_delete`)
	require.NoError(t, err)
	return pos
}

// TestSignRouteIsForOperators: POST /v1/audit/checkpoints on the admin listener signs the head now for an operator
// token with audit:sign, and refuses a tenant's token, even with "*".
func TestSignRouteIsForOperators(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	tenant := s.mint(t, "acme")
	created := s.do(t, http.MethodPost, s.command+"/v1/customers", tenant, "sign-route", map[string]any{"name": "Ada", "email": "ada@example.com",
		"billing_address": "1 Main St", "currency": "USD"})
	require.Equal(t, http.StatusCreated, created.status, string(created.body))
	op, err := s.key.Mint(auth.Principal{Subject: "ops", Operator: true, Permissions: []string{auth.AuditSign}}, time.Now(), time.Hour)
	require.NoError(t, err)
	got := s.do(t, http.MethodPost, s.admin+"/v1/audit/checkpoints", tenant, "", nil)
	assert.Equal(t, http.StatusForbidden, got.status, string(got.body))
	got = s.do(t, http.MethodPost, s.admin+"/v1/audit/checkpoints", op, "", nil)
	require.Equal(t, http.StatusOK, got.status, string(got.body))
	assert.NotEmpty(t, got.json(t)["key_id"])

	pool, err := pgxpool.New(context.Background(), s.dbURL)
	require.NoError(t, err)
	defer pool.Close()
	var last, head int64
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT coalesce(max(position), 0) FROM audit_checkpoints`).Scan(&last))
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT coalesce(max(position), 0) FROM es_events`).Scan(&head))
	assert.Equal(t, head, last, "the head is signed")
	assert.Positive(t, last)
}

// TestAuditSignNeverMigratesAsTheRuntimeRole: `dotmac audit sign` connected as the runtime
// role to a database whose audit schema is behind says to run `dotmac migrate up` and changes
// nothing, instead of creating (and owning) audit_checkpoints itself.
func TestAuditSignNeverMigratesAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	owner, app := pgtest.Roles(t)
	u := pgtest.SchemaURL(t)
	admin := adminPool(t, u)
	migrateUp(t, u, owner, app)
	_, err := admin.Exec(context.Background(), `DROP TABLE audit_checkpoints CASCADE; DELETE FROM audit_schema_migrations`)
	require.NoError(t, err)
	before := layout(t, admin)
	key := filepath.Join(t.TempDir(), "signing.key")
	_, code := runCLI(t, "keys", "generate", key)
	require.Equal(t, 0, code)

	out, code := runCLI(t, "audit", "sign", "--signing-key-file", key, "--database-url", pgtest.As(t, u, app),
		"--data-dir", t.TempDir(), "--log-level", "warn")
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "dotmac migrate up")
	assert.Equal(t, before, layout(t, admin))
}

// TestAuditSignAfterAKeyRotation: a new key refuses to chain onto the old key's checkpoint
// until --signing-trusted-key (or DOTMAC_SIGNING_TRUSTED_KEYS) names the old public key; then
// it signs on, and verify with both public keys checks the whole chain.
func TestAuditSignAfterAKeyRotation(t *testing.T) {
	t.Parallel()
	dbURL := pgtest.SchemaURL(t)
	db := []string{"--database-url", dbURL, "--data-dir", t.TempDir(), "--log-level", "warn"}
	out, code := runCLI(t, append([]string{"migrate", "up"}, db...)...)
	require.Equal(t, 0, code, out)
	_, store := seedStore(t, dbURL)
	keys := t.TempDir()
	oldKey, newKey := filepath.Join(keys, "old.key"), filepath.Join(keys, "new.key")
	for _, k := range []string{oldKey, newKey} {
		_, code = runCLI(t, "keys", "generate", k)
		require.Equal(t, 0, code)
	}
	cli := func(args ...string) (string, int) { return runCLI(t, append(args, db...)...) }
	out, code = cli("audit", "sign", "--signing-key-file", oldKey)
	require.Equal(t, 0, code, out)

	evs, err := readmodeltest.Generate(domainsim.Config{Tenants: []domainsim.Tenant{{Name: "later", Currency: "USD"}},
		Customers: 2, Months: 1, Seed: 7, GraceDays: 14})
	require.NoError(t, err)
	_, err = readmodeltest.AppendTo(context.Background(), store, evs)
	require.NoError(t, err, "history written after the rotation")
	out, code = cli("audit", "sign", "--signing-key-file", newKey)
	assert.NotEqual(t, 0, code, "the old key's checkpoint is not trusted yet: %s", out)
	out, code = cli("audit", "sign", "--signing-key-file", newKey, "--signing-trusted-key", filepath.Join(keys, "missing.pub"))
	assert.NotEqual(t, 0, code, out)
	assert.Contains(t, out, "--signing-trusted-key")

	out, code = cli("audit", "sign", "--signing-key-file", newKey, "--signing-trusted-key", oldKey+".pub")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "signed positions")

	out, code = cli("audit", "verify", "--skip-drift", "--public-key", oldKey+".pub", "--public-key", newKey+".pub")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "signed checkpoints: 2 through position")
}
