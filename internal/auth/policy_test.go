package auth_test

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
)

// signed is a token with exactly claims, signed with the test secret.
func signed(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(secret)
	require.NoError(t, err)
	return tok
}

// TestVerifyPolicy: a token must name the issuer and the audience, carry exp and iat, not be
// issued in the future (beyond the leeway), and live at most the maximum lifetime.
func TestVerifyPolicy(t *testing.T) {
	t.Parallel()
	k, err := auth.HS256(secret)
	require.NoError(t, err)
	now := time.Now()
	at := func(d time.Duration) int64 { return now.Add(d).Unix() }
	claims := func(edit func(jwt.MapClaims)) jwt.MapClaims {
		c := jwt.MapClaims{"sub": "ada", "tenant": "acme", "iss": auth.DefaultIssuer, "aud": auth.DefaultAudience,
			"iat": at(0), "exp": at(time.Hour)}
		if edit != nil {
			edit(c)
		}
		return c
	}
	cases := []struct {
		name string
		edit func(jwt.MapClaims)
		ok   bool
	}{
		{"as minted", nil, true},
		{"audience in a list", func(c jwt.MapClaims) { c["aud"] = []string{"other", auth.DefaultAudience} }, true},
		{"no audience", func(c jwt.MapClaims) { delete(c, "aud") }, false},
		{"another audience", func(c jwt.MapClaims) { c["aud"] = "someone-else" }, false},
		{"another issuer", func(c jwt.MapClaims) { c["iss"] = "evil" }, false},
		{"no issuer", func(c jwt.MapClaims) { delete(c, "iss") }, false},
		{"no expiry", func(c jwt.MapClaims) { delete(c, "exp") }, false},
		{"no issue time", func(c jwt.MapClaims) { delete(c, "iat") }, false},
		{"the maximum lifetime", func(c jwt.MapClaims) { c["exp"] = at(auth.DefaultMaxLifetime) }, true},
		{"a second over it", func(c jwt.MapClaims) { c["exp"] = at(auth.DefaultMaxLifetime + time.Second) }, false},
		{"a 100-year token", func(c jwt.MapClaims) { c["exp"] = at(100 * 365 * 24 * time.Hour) }, false},
		{"issued a day ahead", func(c jwt.MapClaims) { c["iat"], c["exp"] = at(24*time.Hour), at(25*time.Hour) }, false},
		{"issued a minute ahead", func(c jwt.MapClaims) { c["iat"] = at(time.Minute) }, false},
		{"issued within the leeway", func(c jwt.MapClaims) { c["iat"] = at(10 * time.Second) }, true},
		{"a long-lived token backdated", func(c jwt.MapClaims) { c["iat"], c["exp"] = at(-30*24*time.Hour), at(time.Hour) }, false},
	}
	for _, tc := range cases {
		_, err := k.Verify(signed(t, claims(tc.edit)))
		if tc.ok {
			assert.NoError(t, err, tc.name)
		} else {
			assert.ErrorIs(t, err, auth.ErrInvalidToken, tc.name)
		}
	}
}

// TestPolicyIsConfigurable: a key minting for another issuer, audience and lifetime is
// verified by a key with the same policy and refused by one with the defaults; Mint keeps to
// the lifetime.
func TestPolicyIsConfigurable(t *testing.T) {
	t.Parallel()
	base, err := auth.HS256(secret)
	require.NoError(t, err)
	custom, err := base.WithPolicy(auth.Policy{Issuer: "https://idp.example", Audience: "ledger-eu", MaxLifetime: time.Hour})
	require.NoError(t, err)
	p := auth.Principal{Subject: "ada", Tenant: "acme"}
	tok, err := custom.Mint(p, time.Now(), time.Hour)
	require.NoError(t, err)
	_, err = custom.Verify(tok)
	assert.NoError(t, err)
	_, err = base.Verify(tok)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "another issuer and audience")

	_, err = custom.Mint(p, time.Now(), 2*time.Hour)
	assert.Error(t, err, "longer than the policy allows")
	_, err = base.Mint(p, time.Now(), 0)
	assert.Error(t, err)
	long, err := base.Mint(p, time.Now(), auth.DefaultMaxLifetime)
	require.NoError(t, err)
	_, err = custom.Verify(long)
	assert.ErrorIs(t, err, auth.ErrInvalidToken)

	_, err = base.WithPolicy(auth.Policy{MaxLifetime: time.Minute, Leeway: time.Minute})
	assert.Error(t, err, "a leeway as long as the lifetime")
	k, _, err := auth.LoadKey(auth.KeyConfig{Secret: string(secret), Policy: auth.Policy{Audience: "ledger-eu"}})
	require.NoError(t, err)
	_, err = k.Verify(long)
	assert.ErrorIs(t, err, auth.ErrInvalidToken, "LoadKey applies the policy")
}
