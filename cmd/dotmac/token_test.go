package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// TestTokenFollowsTheConfiguredPolicy: `dotmac token` mints with the configured issuer and
// audience, for at most the maximum lifetime; a key with the same settings accepts it, the
// defaults do not.
func TestTokenFollowsTheConfiguredPolicy(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("token-test-secret-", 3)
	mint := func(args ...string) (string, error) {
		root, _ := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append([]string{"token", "--data-dir", t.TempDir(), "--jwt-secret", secret, "--tenant", "acme", "--perm", "*"}, args...))
		err := root.Execute()
		return strings.TrimSpace(out.String()), err
	}
	tok, err := mint("--jwt-issuer", "https://idp.example", "--jwt-audience", "ledger-eu", "--jwt-max-lifetime", "2h")
	require.NoError(t, err, tok)
	key, err := auth.HS256([]byte(secret))
	require.NoError(t, err)
	configured, err := key.WithPolicy(auth.Policy{Issuer: "https://idp.example", Audience: "ledger-eu", MaxLifetime: 2 * time.Hour})
	require.NoError(t, err)
	p, err := configured.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Tenant)
	_, err = key.Verify(tok)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "the default audience and issuer refuse it")

	_, err = mint("--ttl", "25h")
	assert.Error(t, err, "longer than the default maximum lifetime")
	tok, err = mint()
	require.NoError(t, err, tok)
	_, err = key.Verify(tok)
	assert.NoError(t, err, "the defaults on both sides")
}

// TestDevTokenNeverReachesTheLog: with a development key, serve's token goes to the terminal
// only; without one (stderr piped into a log collector) the log says how to mint one and
// holds no token.
func TestDevTokenNeverReachesTheLog(t *testing.T) {
	t.Parallel()
	key, _, err := auth.LoadKey(auth.KeyConfig{DevKeyFile: filepath.Join(t.TempDir(), "dev")})
	require.NoError(t, err)
	f := &serveFlags{devTenant: "demo", queryAddr: ":8081"}
	f.key.policy.MaxLifetime = auth.DefaultMaxLifetime

	var logged, term bytes.Buffer
	announceDevKey(zerolog.New(&logged), key, f, &term)
	assert.Contains(t, term.String(), "export TOKEN=eyJ", "a terminal gets a token to try")
	assert.NotContains(t, logged.String(), "eyJ", "the log gets none")
	assert.Contains(t, logged.String(), "dotmac token --tenant demo")

	logged.Reset()
	announceDevKey(zerolog.New(&logged), key, f, nil)
	assert.NotContains(t, logged.String(), "eyJ")

	pipe, w, err := os.Pipe()
	require.NoError(t, err)
	defer pipe.Close()
	defer w.Close()
	assert.Nil(t, terminal(w), "a pipe is not a terminal")
}

// TestProductionRefusesDevelopmentKeys: serve --production does not start on a generated
// development key, neither by falling back to one nor with one passed as the secret.
func TestProductionRefusesDevelopmentKeys(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	run := func(args ...string) error {
		root, _ := newRoot()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(append(args, "--data-dir", dir, "--jwt-public-key", ""))
		return root.Execute()
	}
	require.NoError(t, run("token", "--tenant", "acme", "--jwt-secret", ""), "dotmac token generates the development key")
	dev, err := os.ReadFile(filepath.Join(dir, "dev-jwt-secret")) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	assert.ErrorIs(t, run("serve", "--production", "--jwt-secret", ""), auth.ErrNoKeyInProduction)
	assert.ErrorIs(t, run("serve", "--production", "--jwt-secret", strings.TrimSpace(string(dev))), auth.ErrDevKeyInProduction)
}
