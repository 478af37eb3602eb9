package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// runDotmac runs the dotmac command line with args in this process and returns its output.
func runDotmac(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root, stop := newRoot()
	defer stop()
	var out bytes.Buffer
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&out)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// noKeyConfigured clears every setting that would choose the key or the data dir.
func noKeyConfigured(t *testing.T) {
	t.Setenv("DOTMAC_DATA_DIR", "")
	t.Setenv("DOTMAC_JWT_SECRET", "")
	t.Setenv("DOTMAC_JWT_PUBLIC_KEY", "")
}

// TestTokenFindsTheServersKeyBelowTheRepositoryRoot: dotmac token run in a subdirectory of the
// repository signs with the development key at the repository's var/, and creates nothing.
func TestTokenFindsTheServersKeyBelowTheRepositoryRoot(t *testing.T) {
	noKeyConfigured(t)
	repo := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module github.com/dotmac/ledger\n\ngo 1.26\n"), 0o600))
	secret := strings.Repeat("k", 64)
	require.NoError(t, os.MkdirAll(filepath.Join(repo, "var"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(repo, "var", "dev-jwt-secret"), []byte(secret+"\n"), 0o600))
	sub := filepath.Join(repo, "cmd", "dotmac")
	require.NoError(t, os.MkdirAll(sub, 0o700))
	t.Chdir(sub)

	out, err := runDotmac(t, "token", "--tenant", "acme", "--perm", "*")
	require.NoError(t, err, out)
	key, err := auth.HS256([]byte(secret))
	require.NoError(t, err)
	p, err := key.Verify(strings.TrimSpace(out))
	require.NoError(t, err, "the token is signed with the server's key")
	assert.Equal(t, "acme", p.Tenant)
	assert.NoDirExists(t, filepath.Join(sub, "var"), "token creates no key of its own")
}

// TestTokenWithoutAKeySaysWhichItWouldUse: with no key where the rule points, dotmac token
// fails naming the file, the rule that chose it and how to point elsewhere, and creates nothing.
func TestTokenWithoutAKeySaysWhichItWouldUse(t *testing.T) {
	noKeyConfigured(t)
	dir := t.TempDir()
	t.Chdir(dir)
	_, err := runDotmac(t, "token", "--tenant", "acme", "--perm", "*")
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, filepath.Join(dir, "var", "dev-jwt-secret"))
	assert.Contains(t, msg, "./var")
	assert.Contains(t, msg, "--data-dir")
	assert.NoDirExists(t, filepath.Join(dir, "var"))

	_, err = runDotmac(t, "token", "--tenant", "acme", "--data-dir", filepath.Join(dir, "elsewhere"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "chosen by --data-dir")
}

// TestTokenFollowsTheConfiguredPolicy: `dotmac token` mints with the configured issuer and
// audience, for at most the maximum lifetime; a key with the same settings accepts it, the
// defaults do not.
func TestTokenFollowsTheConfiguredPolicy(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("token-test-secret-", 3)
	mint := func(args ...string) (string, error) {
		out, err := runDotmac(t, append([]string{"token", "--data-dir", t.TempDir(), "--jwt-secret", secret, "--tenant", "acme", "--perm", "*"}, args...)...)
		return strings.TrimSpace(out), err
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
	// The development key serve would create.
	_, _, err := auth.LoadKey(auth.KeyConfig{DevKeyFile: filepath.Join(dir, "dev-jwt-secret")})
	require.NoError(t, err)
	dev, err := os.ReadFile(filepath.Join(dir, "dev-jwt-secret")) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	assert.ErrorIs(t, run("serve", "--production", "--jwt-secret", ""), auth.ErrNoKeyInProduction)
	assert.ErrorIs(t, run("serve", "--production", "--jwt-secret", strings.TrimSpace(string(dev))), auth.ErrDevKeyInProduction)
}

// TestTokenOperator: `dotmac token --operator` mints an operator token (no tenant, the
// operator permissions, valid 1 h: the operator maximum), and refuses a tenant with it, a
// tenant permission, or a longer life; a tenant token needs --tenant and no operator permission.
func TestTokenOperator(t *testing.T) {
	t.Parallel()
	secret := strings.Repeat("token-test-secret-", 3)
	mint := func(args ...string) (string, error) {
		out, err := runDotmac(t, append([]string{"token", "--data-dir", t.TempDir(), "--jwt-secret", secret}, args...)...)
		return strings.TrimSpace(out), err
	}
	key, err := auth.HS256([]byte(secret))
	require.NoError(t, err)
	tok, err := mint("--operator", "--subject", "ada")
	require.NoError(t, err, tok)
	p, err := key.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, auth.Principal{Subject: "ada", Operator: true, Permissions: auth.OperatorPermissions}, p)
	var c auth.Claims
	_, _, err = jwt.NewParser().ParseUnverified(tok, &c)
	require.NoError(t, err)
	assert.Equal(t, auth.DefaultOperatorMaxLifetime, c.ExpiresAt.Sub(c.IssuedAt.Time), "the operator maximum by default")

	tok, err = mint("--operator", "--perm", auth.ProjectionsRead, "--jwt-operator-max-lifetime", "10m", "--ttl", "10m")
	require.NoError(t, err, tok)
	short, err := key.WithPolicy(auth.Policy{OperatorMaxLifetime: 10 * time.Minute})
	require.NoError(t, err)
	p, err = short.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, []string{auth.ProjectionsRead}, p.Permissions)

	for name, args := range map[string][]string{
		"an operator of a tenant":          {"--operator", "--tenant", "acme"},
		"neither tenant nor operator":      {"--perm", "*"},
		"an operator token over 1 h":       {"--operator", "--ttl", "2h"},
		"a tenant permission for operator": {"--operator", "--perm", auth.CustomersRead},
		"a tenant with projection admin":   {"--tenant", "acme", "--perm", auth.ProjectionsRebuild},
		"operators outliving tenants":      {"--operator", "--jwt-max-lifetime", "1h", "--jwt-operator-max-lifetime", "2h"},
	} {
		out, err := mint(args...)
		assert.Error(t, err, "%s: %s", name, out)
	}
}
