// Package auth verifies and mints the bearer JWTs both APIs accept. A tenant token names a
// subject, a tenant and permissions; every tenant endpoint requires one permission, and every
// read or write is scoped to the token's tenant. An operator token names a subject, no tenant,
// and the "operator" claim: only the operator routes (projection admin) accept it, and they
// accept nothing else (see RequireOperator).
package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/httpx"
)

// Permission names, as they appear in a token's "permissions" claim. "*" grants every one.
const (
	CustomersWrite     = "customers:write"
	CustomersRead      = "customers:read"
	PlansWrite         = "plans:write"
	PlansRead          = "plans:read"
	ServicesWrite      = "services:write"
	ServicesRead       = "services:read"
	InvoicesWrite      = "invoices:write"
	InvoicesRead       = "invoices:read"
	PaymentsWrite      = "payments:write"
	PaymentsRead       = "payments:read"
	CreditNotesWrite   = "creditnotes:write"
	BillingRunsWrite   = "billingruns:write"
	LedgerRead         = "ledger:read"
	ReportsRead        = "reports:read"
	AuditRead          = "audit:read"
	ProjectionsRead    = "projections:read"
	ProjectionsRebuild = "projections:rebuild"
	AuditSign          = "audit:sign" // operators: sign a checkpoint of the feed now
	WebhooksWrite      = "webhooks:write"
	WebhooksRead       = "webhooks:read"
	All                = "*"
)

// Known lists every permission, for `dotmac token --help` and validation.
var Known = []string{CustomersWrite, CustomersRead, PlansWrite, PlansRead, ServicesWrite, ServicesRead,
	InvoicesWrite, InvoicesRead, PaymentsWrite, PaymentsRead, CreditNotesWrite, BillingRunsWrite,
	LedgerRead, ReportsRead, AuditRead, ProjectionsRead, ProjectionsRebuild, AuditSign, WebhooksWrite, WebhooksRead, All}

// Claims is the token body. An operator token has Operator set and no Tenant.
type Claims struct {
	jwt.RegisteredClaims
	Tenant      string   `json:"tenant,omitempty"`
	Operator    bool     `json:"operator,omitempty"`
	Permissions []string `json:"permissions"`
}

// Principal is the authenticated caller: a tenant's (Tenant set) or an operator's (Operator
// set, no Tenant), never both. A tenant principal is never an operator, whatever its
// permissions.
type Principal struct {
	Subject     string
	Tenant      string
	Operator    bool
	Permissions []string
}

// Can reports whether p holds perm (or "*").
func (p Principal) Can(perm string) bool {
	return slices.Contains(p.Permissions, perm) || slices.Contains(p.Permissions, All)
}

// ValidTenant reports whether t is a well-formed tenant id (domain.ParseTenantID's rule).
func ValidTenant(t string) bool {
	_, err := domain.ParseTenantID(t)
	return err == nil
}

// Key is the verification (and, for HS256 and RS256 private keys, signing) material, with
// the Policy tokens must follow.
type Key struct {
	method    jwt.SigningMethod
	verifyKey any // []byte or *rsa.PublicKey
	sign      any // []byte or *rsa.PrivateKey; nil when only verifying
	policy    Policy

	now  func() time.Time // the clock of expiry checks: time.Now but in tests
	seen *verified        // tokens this key (with this policy) has verified
}

// newKey returns a key with the default policy.
func newKey(method jwt.SigningMethod, verify, sign any) *Key {
	k := &Key{method: method, verifyKey: verify, sign: sign, now: time.Now, seen: newVerified()}
	k.policy.setDefaults()
	return k
}

// HS256 returns a key for a shared secret (at least 32 bytes).
func HS256(secret []byte) (*Key, error) {
	if len(secret) < 32 {
		return nil, fmt.Errorf("the JWT secret has %d bytes; use at least 32", len(secret))
	}
	return newKey(jwt.SigningMethodHS256, secret, secret), nil
}

// RS256 returns a verifying key from a PEM public key (or a private key, which can also sign).
func RS256(pemBytes []byte) (*Key, error) {
	if priv, err := jwt.ParseRSAPrivateKeyFromPEM(pemBytes); err == nil {
		return newKey(jwt.SigningMethodRS256, &priv.PublicKey, priv), nil
	}
	pub, err := jwt.ParseRSAPublicKeyFromPEM(pemBytes)
	if err != nil {
		return nil, fmt.Errorf("parse RS256 key: %w", err)
	}
	return newKey(jwt.SigningMethodRS256, pub, nil), nil
}

// Errors from Verify.
var (
	ErrNoToken      = errors.New("no bearer token")
	ErrInvalidToken = errors.New("invalid token")
	ErrCannotSign   = errors.New("this key can only verify")
)

// Verify checks a raw token against the key and its Policy and returns its principal. Every
// refusal wraps ErrInvalidToken. A token this key has verified before is answered from memory
// until it expires (see verified).
func (k *Key) Verify(raw string) (Principal, error) {
	now := k.now()
	if p, ok := k.seen.get(raw, now, k.policy.Leeway); ok {
		return p, nil
	}
	p, exp, err := k.verify(raw, now)
	if err != nil {
		return Principal{}, err
	}
	k.seen.put(raw, p, exp, now, k.policy.Leeway)
	return p, nil
}

// verify is Verify without the memory: the signature, the claims and the policy, as of now.
func (k *Key) verify(raw string, now time.Time) (Principal, time.Time, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(raw, &c, func(*jwt.Token) (any, error) { return k.verifyKey, nil },
		jwt.WithValidMethods([]string{k.method.Alg()}), jwt.WithIssuer(k.policy.Issuer), jwt.WithAudience(k.policy.Audience),
		jwt.WithLeeway(k.policy.Leeway), jwt.WithExpirationRequired(), jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }))
	if err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if err := k.checkLifetime(c.RegisteredClaims, c.Operator); err != nil {
		return Principal{}, time.Time{}, err
	}
	if err := checkTenant(c.Tenant, c.Operator); err != nil {
		return Principal{}, time.Time{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if c.Subject == "" {
		return Principal{}, time.Time{}, fmt.Errorf("%w: no subject", ErrInvalidToken)
	}
	return Principal{Subject: c.Subject, Tenant: c.Tenant, Operator: c.Operator, Permissions: c.Permissions}, c.ExpiresAt.Time, nil
}

// checkTenant requires a valid tenant of a tenant token and none of an operator token.
func checkTenant(tenant string, operator bool) error {
	switch {
	case operator && tenant != "":
		return fmt.Errorf("an operator token names no tenant (it has %q)", tenant)
	case !operator && !ValidTenant(tenant):
		return fmt.Errorf("tenant %q: use 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit", tenant)
	}
	return nil
}

// checkLifetime requires an issue time and exp − iat of at most the policy's lifetime for the
// token's kind (the parser has checked that iat is not in the future and exp not in the past).
func (k *Key) checkLifetime(c jwt.RegisteredClaims, operator bool) error {
	if c.IssuedAt == nil {
		return fmt.Errorf("%w: no iat (issued at)", ErrInvalidToken)
	}
	if life, most := c.ExpiresAt.Sub(c.IssuedAt.Time), k.policy.Lifetime(operator); life > most {
		return fmt.Errorf("%w: valid for %s, more than the %s allowed", ErrInvalidToken, life, most)
	}
	return nil
}

// Mint signs a token for p valid for ttl from now (at most the policy's Lifetime for p's
// kind). A tenant principal needs a valid tenant, an operator principal must have none.
func (k *Key) Mint(p Principal, now time.Time, ttl time.Duration) (string, error) {
	if k.sign == nil {
		return "", ErrCannotSign
	}
	if err := checkTenant(p.Tenant, p.Operator); err != nil {
		return "", err
	}
	if most := k.policy.Lifetime(p.Operator); ttl <= 0 || ttl > most {
		return "", fmt.Errorf("token lifetime %s: want more than 0 and at most %s", ttl, most)
	}
	c := Claims{
		RegisteredClaims: jwt.RegisteredClaims{Subject: p.Subject, Issuer: k.policy.Issuer, Audience: jwt.ClaimStrings{k.policy.Audience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(ttl))},
		Tenant: p.Tenant, Operator: p.Operator, Permissions: p.Permissions,
	}
	return jwt.NewWithClaims(k.method, c).SignedString(k.sign)
}

type principalKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// From returns the request's principal.
func From(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// Authenticate is middleware that requires a valid bearer token, answering 401 otherwise,
// and records the principal in the context and the request's log Info.
func (k *Key) Authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		raw, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || raw == "" {
			httpx.WriteProblem(w, r, httpx.Unauthorized("send Authorization: Bearer <token>"))
			return
		}
		p, err := k.Verify(strings.TrimSpace(raw))
		if err != nil {
			httpx.WriteProblem(w, r, httpx.Unauthorized(err.Error()))
			return
		}
		info := httpx.InfoFrom(r.Context())
		info.Tenant, info.Subject = p.Tenant, p.Subject
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
	})
}

// Require wraps a tenant route's h so that it answers 403 unless the principal is a tenant's
// (an operator token has no tenant to scope the route to) and holds perm. It must run inside
// Authenticate.
func Require(perm string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := From(r.Context())
		if !ok {
			httpx.WriteProblem(w, r, httpx.Unauthorized("no principal"))
			return
		}
		if p.Operator || p.Tenant == "" {
			httpx.WriteProblem(w, r, tenantsOnly())
			return
		}
		if !p.Can(perm) {
			httpx.WriteProblem(w, r, httpx.Forbidden(perm))
			return
		}
		h.ServeHTTP(w, r)
	})
}

// RequireFunc is Require for a handler function.
func RequireFunc(perm string, f http.HandlerFunc) http.Handler { return Require(perm, f) }
