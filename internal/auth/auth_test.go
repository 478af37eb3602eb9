package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/httpx"
)

var secret = []byte(strings.Repeat("s", 32))

func TestMintVerifyHS256(t *testing.T) {
	k, err := auth.HS256(secret)
	require.NoError(t, err)
	p := auth.Principal{Subject: "ada", Tenant: "acme", Permissions: []string{auth.InvoicesWrite}}
	tok, err := k.Mint(p, time.Now(), time.Hour)
	require.NoError(t, err)
	got, err := k.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, p, got)
	assert.True(t, got.Can(auth.InvoicesWrite))
	assert.False(t, got.Can(auth.PaymentsWrite))
	assert.True(t, auth.Principal{Permissions: []string{auth.All}}.Can(auth.AuditRead))
}

func TestVerifyRejects(t *testing.T) {
	k, _ := auth.HS256(secret)
	other, _ := auth.HS256([]byte(strings.Repeat("o", 32)))
	p := auth.Principal{Subject: "ada", Tenant: "acme"}
	expired, _ := k.Mint(p, time.Now().Add(-2*time.Hour), time.Hour)
	foreign, _ := other.Mint(p, time.Now(), time.Hour)
	valid, _ := k.Mint(p, time.Now(), time.Hour)
	for name, tok := range map[string]string{
		"expired": expired, "other key": foreign, "garbage": "abc.def.ghi", "tampered": valid[:len(valid)-2] + "xx",
		"alg none": "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJhZGEiLCJ0ZW5hbnQiOiJhY21lIn0.",
	} {
		_, err := k.Verify(tok)
		assert.ErrorIs(t, err, auth.ErrInvalidToken, name)
	}
	_, err := k.Mint(auth.Principal{Subject: "x", Tenant: "Bad Tenant"}, time.Now(), time.Hour)
	assert.Error(t, err)
	_, err = auth.HS256([]byte("short"))
	assert.Error(t, err)
}

func TestRS256(t *testing.T) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	privPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)})
	pubDER, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	signer, err := auth.RS256(privPEM)
	require.NoError(t, err)
	verifier, err := auth.RS256(pubPEM)
	require.NoError(t, err)
	tok, err := signer.Mint(auth.Principal{Subject: "svc", Tenant: "acme", Permissions: []string{"*"}}, time.Now(), time.Minute)
	require.NoError(t, err)
	p, err := verifier.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, "acme", p.Tenant)
	_, err = verifier.Mint(p, time.Now(), time.Minute)
	assert.ErrorIs(t, err, auth.ErrCannotSign)
	hs, _ := auth.HS256(secret)
	hsTok, _ := hs.Mint(p, time.Now(), time.Minute)
	_, err = verifier.Verify(hsTok)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "an HS256 token is refused by an RS256 verifier")
}

func TestMiddleware(t *testing.T) {
	k, _ := auth.HS256(secret)
	h := k.Authenticate(auth.Require(auth.InvoicesWrite, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.From(r.Context())
		_, _ = w.Write([]byte(p.Tenant))
	})))
	tok := func(perms ...string) string {
		s, _ := k.Mint(auth.Principal{Subject: "u", Tenant: "acme", Permissions: perms}, time.Now(), time.Hour)
		return s
	}
	tests := []struct {
		name, header string
		status       int
	}{
		{"no header", "", 401},
		{"not bearer", "Basic abc", 401},
		{"bad token", "Bearer nope", 401},
		{"missing permission", "Bearer " + tok(auth.PaymentsWrite), 403},
		{"ok", "Bearer " + tok(auth.InvoicesWrite), 200},
		{"wildcard", "Bearer " + tok(auth.All), 200},
	}
	for _, tc := range tests {
		r := httptest.NewRequest(http.MethodPost, "/v1/invoices", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		assert.Equal(t, tc.status, w.Code, tc.name)
		if tc.status != 200 {
			assert.Equal(t, httpx.ProblemContentType, w.Header().Get("Content-Type"), tc.name)
		}
		if tc.status == 401 {
			assert.Contains(t, w.Header().Get("WWW-Authenticate"), "Bearer", tc.name)
		}
	}
}

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "var", "dev")
	k1, src, err := auth.LoadKey(auth.KeyConfig{DevKeyFile: file})
	require.NoError(t, err)
	assert.Equal(t, auth.FromDevKey, src)
	k2, _, err := auth.LoadKey(auth.KeyConfig{DevKeyFile: file})
	require.NoError(t, err)
	tok, _ := k1.Mint(auth.Principal{Subject: "u", Tenant: "acme"}, time.Now(), time.Hour)
	_, err = k2.Verify(tok)
	assert.NoError(t, err, "the development key survives a restart")

	_, _, err = auth.LoadKey(auth.KeyConfig{Production: true})
	assert.ErrorIs(t, err, auth.ErrNoKeyInProduction)
	dev, err := os.ReadFile(file) // #nosec G304 -- the test's own file
	require.NoError(t, err)
	_, _, err = auth.LoadKey(auth.KeyConfig{Secret: string(dev), DevKeyFile: file, Production: true})
	assert.ErrorIs(t, err, auth.ErrDevKeyInProduction, "the generated key promoted to production")
	_, src, err = auth.LoadKey(auth.KeyConfig{Secret: string(dev), DevKeyFile: file})
	require.NoError(t, err, "outside production it is only a secret")
	assert.Equal(t, auth.FromSecret, src)
	_, src, err = auth.LoadKey(auth.KeyConfig{Secret: string(secret), Production: true})
	require.NoError(t, err)
	assert.Equal(t, auth.FromSecret, src)
	_, _, err = auth.LoadKey(auth.KeyConfig{Secret: string(secret), PublicKey: "x"})
	assert.Error(t, err)
	_, _, err = auth.LoadKey(auth.KeyConfig{PublicKey: filepath.Join(dir, "missing.pem")})
	assert.Error(t, err)
}
