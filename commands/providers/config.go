package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/dotmac/ledger/domain"
)

// Limits and defaults of the configuration.
const (
	// DefaultStripeTolerance is how far a Stripe-Signature timestamp may be from the clock.
	DefaultStripeTolerance = 5 * time.Minute
	// MaxAccounts bounds the provider accounts of one configuration.
	MaxAccounts = 1000
	// MaxUnselectedSecrets bounds the secrets of the Stripe accounts configured without an
	// endpoint: a callback whose URL names no endpoint (and whose event names no configured
	// account) is checked against all of them, so this bounds the HMACs an anonymous caller
	// can make the server compute for one request.
	MaxUnselectedSecrets = 8
	// MaxSecretsPerAccount bounds the secrets of one account (old and new, while rotating).
	MaxSecretsPerAccount = 4
	// minSecretBytes is the shortest secret accepted: a guessable secret is no secret.
	minSecretBytes = 16
	// maxConfigBytes bounds the configuration file.
	maxConfigBytes = 4 << 20
)

// Config is every tenant's payment-provider accounts.
type Config struct {
	Stripe []StripeAccount `json:"stripe"`
	MPesa  []MPesaAccount  `json:"mpesa"`
}

// StripeAccount is one tenant's Stripe-style card gateway account.
type StripeAccount struct {
	Tenant string `json:"tenant"`
	// Account is the gateway's account id ("acct_…"); when set, a callback naming another
	// account in its "account" field is not this account's. Optional.
	Account string `json:"account"`
	// Endpoint names the account's webhook endpoint: callbacks to
	// /v1/providers/stripe/callbacks?endpoint=<Endpoint> are checked against this account's
	// secrets only, and callbacks naming no endpoint are never checked against them.
	// Optional; required when the accounts without one would hold more than
	// MaxUnselectedSecrets secrets.
	Endpoint string `json:"endpoint"`
	// Secrets are the webhook signing secrets ("whsec_…"): a signature by any of them is
	// accepted, so a secret is rotated by adding the new one, then removing the old.
	Secrets []Secret `json:"secrets"`
	// Tolerance is how far the signed timestamp may be from the clock (default 5m).
	Tolerance Duration `json:"tolerance"`
}

// MPesaAccount is one tenant's M-Pesa paybill or till (a short code).
type MPesaAccount struct {
	Tenant    string `json:"tenant"`
	ShortCode string `json:"shortcode"`
	// Secret must come with every confirmation: the query parameter "secret" of the
	// registered confirmation URL, or the header X-Callback-Secret.
	Secret Secret `json:"secret"`
	// AllowFrom lists the networks confirmations may come from (Safaricom's published
	// addresses); empty: any.
	AllowFrom []netip.Prefix `json:"allow_from"`
	// Currency is the currency of the short code's amounts (default KES).
	Currency string `json:"currency"`
}

// Secret is a shared secret. It prints and marshals as "[redacted]".
type Secret string

// String returns "[redacted]".
func (Secret) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (Secret) GoString() string { return "[redacted]" }

// MarshalJSON writes "[redacted]".
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"[redacted]"`), nil }

// UnmarshalJSON reads the secret.
func (s *Secret) UnmarshalJSON(b []byte) error {
	var v string
	if err := json.Unmarshal(b, &v); err != nil {
		return errors.New("a secret must be a JSON string")
	}
	*s = Secret(v)
	return nil
}

// Duration is a time.Duration written as "5m" in JSON.
type Duration time.Duration

// UnmarshalJSON reads "5m", "300s", ...
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return errors.New(`a duration is a string such as "5m"`)
	}
	v, err := time.ParseDuration(s)
	if err != nil || v <= 0 {
		return fmt.Errorf("duration %q: want a positive duration such as \"5m\"", s)
	}
	*d = Duration(v)
	return nil
}

// Load reads the configuration from the JSON file at path and validates it.
func Load(path string) (*Registry, error) {
	f, err := os.Open(path) // #nosec G304 -- the operator names the file
	if err != nil {
		return nil, fmt.Errorf("payment providers: %w", err)
	}
	defer f.Close()
	var c Config
	dec := json.NewDecoder(&limitedReader{r: f, n: maxConfigBytes})
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("payment providers %s: %w", path, err)
	}
	return NewRegistry(c)
}

// Validate reports the first problem of the configuration: a missing or invalid tenant, a
// secret that is missing or short, a short code or Stripe account configured twice, too many
// accounts or secrets.
func (c *Config) Validate() error {
	if len(c.Stripe)+len(c.MPesa) > MaxAccounts {
		return fmt.Errorf("payment providers: more than %d accounts", MaxAccounts)
	}
	accounts, endpoints, unselected := map[string]bool{}, map[string]bool{}, 0
	for i, a := range c.Stripe {
		if err := a.validate(); err != nil {
			return fmt.Errorf("payment providers: stripe[%d]: %w", i, err)
		}
		if a.Account != "" && accounts[a.Account] {
			return fmt.Errorf("payment providers: stripe[%d]: account %s configured twice", i, a.Account)
		}
		accounts[a.Account] = true
		if a.Endpoint == "" {
			unselected += len(a.Secrets)
			continue
		}
		if endpoints[a.Endpoint] {
			return fmt.Errorf("payment providers: stripe[%d]: endpoint %s configured twice", i, a.Endpoint)
		}
		endpoints[a.Endpoint] = true
	}
	if unselected > MaxUnselectedSecrets {
		return fmt.Errorf("payment providers: the stripe accounts without an endpoint hold %d secrets, at most %d: give each account an "+
			"\"endpoint\" and register its webhook URL as /v1/providers/stripe/callbacks?endpoint=<endpoint> (docs/payments-in.md)",
			unselected, MaxUnselectedSecrets)
	}
	codes := map[string]bool{}
	for i, a := range c.MPesa {
		if err := a.validate(); err != nil {
			return fmt.Errorf("payment providers: mpesa[%d]: %w", i, err)
		}
		if codes[a.ShortCode] {
			return fmt.Errorf("payment providers: mpesa[%d]: shortcode %s configured twice", i, a.ShortCode)
		}
		codes[a.ShortCode] = true
	}
	return nil
}

func (a StripeAccount) validate() error {
	if _, err := domain.ParseTenantID(a.Tenant); err != nil {
		return err
	}
	if a.Endpoint != "" && !endpointPattern.MatchString(a.Endpoint) {
		return fmt.Errorf("endpoint %q: want 1 to 64 letters, digits, '_' or '-'", a.Endpoint)
	}
	if len(a.Secrets) == 0 || len(a.Secrets) > MaxSecretsPerAccount {
		return fmt.Errorf("want 1 to %d secrets", MaxSecretsPerAccount)
	}
	for _, s := range a.Secrets {
		if len(s) < minSecretBytes {
			return fmt.Errorf("a secret is shorter than %d bytes", minSecretBytes)
		}
	}
	return nil
}

func (a MPesaAccount) validate() error {
	if _, err := domain.ParseTenantID(a.Tenant); err != nil {
		return err
	}
	if !shortCodePattern.MatchString(a.ShortCode) {
		return fmt.Errorf("shortcode %q: want 5 to 7 digits", a.ShortCode)
	}
	if len(a.Secret) < minSecretBytes {
		return fmt.Errorf("the secret is missing or shorter than %d bytes", minSecretBytes)
	}
	if a.Currency != "" {
		if _, err := domain.ParseCurrency(a.Currency); err != nil {
			return err
		}
	}
	return nil
}
