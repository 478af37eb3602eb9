package providers

import (
	"io"
	"regexp"
	"time"

	"github.com/dotmac/ledger/domain"
)

// The providers served by POST /v1/providers/{provider}/callbacks.
const (
	ProviderStripe = "stripe"
	ProviderMPesa  = "mpesa"
)

// Known reports whether name is a provider this package verifies callbacks of.
func Known(name string) bool { return name == ProviderStripe || name == ProviderMPesa }

var (
	shortCodePattern = regexp.MustCompile(`^[0-9]{5,7}$`)
	endpointPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
)

// Registry looks provider accounts up. It is immutable and safe for concurrent use.
type Registry struct {
	stripe []stripeAccount
	mpesa  map[string]mpesaAccount
	// Now is the clock Stripe timestamps are checked against (default time.Now).
	Now func() time.Time
}

type stripeAccount struct {
	tenant    domain.TenantID
	account   string
	endpoint  string
	secrets   [][]byte
	tolerance time.Duration
}

type mpesaAccount struct {
	tenant   domain.TenantID
	secret   []byte
	allow    []prefix
	currency domain.Currency
}

// NewRegistry validates c and returns its registry.
func NewRegistry(c Config) (*Registry, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := &Registry{mpesa: map[string]mpesaAccount{}, Now: time.Now}
	for _, a := range c.Stripe {
		t, _ := domain.ParseTenantID(a.Tenant) // validated
		tol := time.Duration(a.Tolerance)
		if tol == 0 {
			tol = DefaultStripeTolerance
		}
		sa := stripeAccount{tenant: t, account: a.Account, endpoint: a.Endpoint, tolerance: tol}
		for _, s := range a.Secrets {
			sa.secrets = append(sa.secrets, []byte(s))
		}
		r.stripe = append(r.stripe, sa)
	}
	for _, a := range c.MPesa {
		t, _ := domain.ParseTenantID(a.Tenant) // validated
		code := a.Currency
		if code == "" {
			code = "KES"
		}
		cur, _ := domain.ParseCurrency(code) // validated
		ma := mpesaAccount{tenant: t, secret: []byte(a.Secret), currency: cur}
		for _, p := range a.AllowFrom {
			ma.allow = append(ma.allow, prefix{p.Masked()})
		}
		r.mpesa[a.ShortCode] = ma
	}
	return r, nil
}

// Empty reports whether no account is configured.
func (r *Registry) Empty() bool { return r == nil || len(r.stripe)+len(r.mpesa) == 0 }

// limitedReader reads at most n bytes and then fails, so an oversized file is an error rather
// than silently cut.
type limitedReader struct {
	r io.Reader
	n int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
