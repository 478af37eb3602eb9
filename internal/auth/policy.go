package auth

import (
	"fmt"
	"time"
)

// Defaults of a Policy.
const (
	// DefaultIssuer is the "iss" of the tokens this system mints and accepts.
	DefaultIssuer = "dotmac-ledger"
	// DefaultAudience is the "aud" they are minted for and must name.
	DefaultAudience = "dotmac-ledger"
	// DefaultMaxLifetime bounds exp − iat of an accepted token.
	DefaultMaxLifetime = 24 * time.Hour
	// DefaultOperatorMaxLifetime bounds exp − iat of an accepted operator token (or
	// MaxLifetime, when that is shorter): operator tokens reach every tenant's projections.
	DefaultOperatorMaxLifetime = time.Hour
	// DefaultLeeway is the clock skew allowed on exp, nbf and iat.
	DefaultLeeway = 30 * time.Second
)

// Policy is what a token must say, besides its signature, to be accepted: this issuer, this
// audience, an expiry and an issue time not later than now (give or take Leeway), and a
// lifetime (exp − iat) of at most MaxLifetime, or OperatorMaxLifetime for an operator token.
// Mint follows it too.
type Policy struct {
	Issuer              string
	Audience            string
	MaxLifetime         time.Duration
	OperatorMaxLifetime time.Duration
	Leeway              time.Duration
}

func (p *Policy) setDefaults() {
	if p.Issuer == "" {
		p.Issuer = DefaultIssuer
	}
	if p.Audience == "" {
		p.Audience = DefaultAudience
	}
	if p.MaxLifetime == 0 {
		p.MaxLifetime = DefaultMaxLifetime
	}
	if p.OperatorMaxLifetime == 0 {
		p.OperatorMaxLifetime = min(DefaultOperatorMaxLifetime, p.MaxLifetime)
	}
	if p.Leeway == 0 {
		p.Leeway = DefaultLeeway
	}
}

// Validate reports a policy that cannot work: a negative duration, a leeway not below the
// lifetimes, or operator tokens allowed to live longer than tenant tokens.
func (p Policy) Validate() error {
	if p.MaxLifetime < 0 || p.Leeway < 0 || p.Leeway >= p.MaxLifetime {
		return fmt.Errorf("token policy: want 0 <= leeway (%s) < maximum lifetime (%s)", p.Leeway, p.MaxLifetime)
	}
	if p.OperatorMaxLifetime <= p.Leeway || p.OperatorMaxLifetime > p.MaxLifetime {
		return fmt.Errorf("token policy: want leeway (%s) < operator maximum lifetime (%s) <= maximum lifetime (%s)",
			p.Leeway, p.OperatorMaxLifetime, p.MaxLifetime)
	}
	return nil
}

// Lifetime is the longest a token may be valid: OperatorMaxLifetime for an operator's,
// MaxLifetime for a tenant's.
func (p Policy) Lifetime(operator bool) time.Duration {
	if operator {
		return p.OperatorMaxLifetime
	}
	return p.MaxLifetime
}

// Policy returns the policy k follows, with the defaults filled in.
func (k *Key) Policy() Policy { return k.policy }

// WithPolicy returns k following p (its zero fields take the defaults).
func (k *Key) WithPolicy(p Policy) (*Key, error) {
	p.setDefaults()
	if err := p.Validate(); err != nil {
		return nil, err
	}
	out := *k
	out.policy = p
	out.seen = newVerified() // what k accepted, the new policy may not
	return &out, nil
}
