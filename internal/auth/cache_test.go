package auth_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// clock is a settable time for expiry tests.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestARememberedTokenStillExpires(t *testing.T) {
	base, err := auth.HS256(secret)
	require.NoError(t, err)
	c := &clock{t: time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)}
	k := base.WithClock(c.now)
	p := auth.Principal{Subject: "ada", Tenant: "acme", Permissions: []string{auth.InvoicesRead}}
	tok, err := k.Mint(p, c.t, time.Hour)
	require.NoError(t, err)

	for range 3 {
		got, err := k.Verify(tok)
		require.NoError(t, err)
		assert.Equal(t, p, got)
	}
	assert.Equal(t, 1, k.Remembered())

	c.t = c.t.Add(time.Hour + auth.DefaultLeeway - time.Second)
	_, err = k.Verify(tok)
	require.NoError(t, err, "within the leeway after exp, as the parser allows")
	c.t = c.t.Add(time.Second)
	_, err = k.Verify(tok)
	require.ErrorIs(t, err, auth.ErrInvalidToken, "at exp + leeway the remembered token is refused")
	assert.Equal(t, 0, k.Remembered(), "and forgotten")
}

func TestARememberedTokenGivesEachCallerItsOwnPrincipal(t *testing.T) {
	k, _ := auth.HS256(secret)
	tok, _ := k.Mint(auth.Principal{Subject: "ada", Tenant: "acme", Permissions: []string{auth.InvoicesRead}}, time.Now(), time.Hour)
	first, err := k.Verify(tok)
	require.NoError(t, err)
	first.Permissions[0] = auth.All
	second, err := k.Verify(tok)
	require.NoError(t, err)
	assert.Equal(t, []string{auth.InvoicesRead}, second.Permissions)
}

func TestANewPolicyForgetsWhatTheOldOneAccepted(t *testing.T) {
	k, _ := auth.HS256(secret)
	tok, _ := k.Mint(auth.Principal{Subject: "ada", Tenant: "acme"}, time.Now(), time.Hour)
	_, err := k.Verify(tok)
	require.NoError(t, err)
	strict, err := k.WithPolicy(auth.Policy{Audience: "billing-only"})
	require.NoError(t, err)
	_, err = strict.Verify(tok)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "a token for another audience, remembered by the old key")
	_, err = k.Verify(tok[:len(tok)-2] + "xx")
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "a tampered copy of a remembered token")
}

func TestRememberedTokensStayBounded(t *testing.T) {
	k, _ := auth.HS256(secret)
	now := time.Now()
	for i := range 2*auth.VerifiedCacheSize + 10 {
		tok, err := k.Mint(auth.Principal{Subject: "s" + strconv.Itoa(i), Tenant: "acme"}, now, time.Hour)
		require.NoError(t, err)
		_, err = k.Verify(tok)
		require.NoError(t, err)
		require.LessOrEqual(t, k.Remembered(), auth.VerifiedCacheSize)
	}
}

func BenchmarkVerifyRemembered(b *testing.B) {
	k, _ := auth.HS256(secret)
	tok, _ := k.Mint(auth.Principal{Subject: "ada", Tenant: "acme", Permissions: []string{"*"}}, time.Now(), time.Hour)
	for b.Loop() {
		if _, err := k.Verify(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyFirstSeen(b *testing.B) {
	k, _ := auth.HS256(secret)
	toks := make([]string, 2*auth.VerifiedCacheSize)
	for i := range toks {
		toks[i], _ = k.Mint(auth.Principal{Subject: "s" + strconv.Itoa(i), Tenant: "acme", Permissions: []string{"*"}}, time.Now(), time.Hour)
	}
	i := 0
	for b.Loop() {
		if _, err := k.Verify(toks[i%len(toks)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
