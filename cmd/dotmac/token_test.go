package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
