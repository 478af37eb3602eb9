package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// KeySource says where LoadKey found the key.
type KeySource string

// Where a key can come from.
const (
	FromSecret    KeySource = "DOTMAC_JWT_SECRET" // #nosec G101 -- the name of a variable, not a credential
	FromPublicKey KeySource = "DOTMAC_JWT_PUBLIC_KEY"
	FromDevKey    KeySource = "development key"
)

// KeyConfig is the configuration LoadKey reads.
type KeyConfig struct {
	// Secret is an HS256 shared secret (DOTMAC_JWT_SECRET).
	Secret string
	// PublicKey is an RS256 PEM key, or the path of a file holding one (DOTMAC_JWT_PUBLIC_KEY).
	PublicKey string
	// DevKeyFile holds the generated development secret (default ./var/dev-jwt-secret).
	DevKeyFile string
	// Production refuses to fall back to a development key.
	Production bool
	// DevKeyMustExist reads the development secret but never creates it: a missing one is
	// ErrNoDevKey (dotmac token must sign with the key the server uses, not a new one).
	DevKeyMustExist bool
	// Policy is what tokens must say (issuer, audience, lifetime); zero fields take defaults.
	Policy Policy
}

// Errors of LoadKey in production.
var (
	// ErrNoKeyInProduction: --production without a configured key.
	ErrNoKeyInProduction = errors.New("production mode needs DOTMAC_JWT_SECRET or DOTMAC_JWT_PUBLIC_KEY")
	// ErrDevKeyInProduction: --production with DOTMAC_JWT_SECRET set to the generated
	// development key (which sits unencrypted in the data directory and signed dev tokens).
	ErrDevKeyInProduction = errors.New("production mode refuses the generated development key as DOTMAC_JWT_SECRET; generate a new secret")
)

// ErrNoDevKey: DevKeyMustExist and no development secret in DevKeyFile.
var ErrNoDevKey = errors.New("no development key")

// LoadKey returns the configured key, following c.Policy; with none configured (and not in
// production) it loads or creates a development secret in DevKeyFile, so that restarts and
// `dotmac token` agree.
func LoadKey(c KeyConfig) (*Key, KeySource, error) {
	k, src, err := loadKey(c)
	if err != nil {
		return nil, "", err
	}
	k, err = k.WithPolicy(c.Policy)
	if err != nil {
		return nil, "", err
	}
	return k, src, nil
}

func loadKey(c KeyConfig) (*Key, KeySource, error) {
	switch {
	case c.Secret != "" && c.PublicKey != "":
		return nil, "", errors.New("set DOTMAC_JWT_SECRET or DOTMAC_JWT_PUBLIC_KEY, not both")
	case c.Production && c.Secret != "" && isDevSecret(c.DevKeyFile, c.Secret):
		return nil, "", ErrDevKeyInProduction
	case c.Secret != "":
		k, err := HS256([]byte(c.Secret))
		return k, FromSecret, err
	case c.PublicKey != "":
		pemBytes := []byte(c.PublicKey)
		if !strings.Contains(c.PublicKey, "-----BEGIN") {
			b, err := os.ReadFile(c.PublicKey) // #nosec G304 -- the operator chooses the key file
			if err != nil {
				return nil, "", fmt.Errorf("read DOTMAC_JWT_PUBLIC_KEY file: %w", err)
			}
			pemBytes = b
		}
		k, err := RS256(pemBytes)
		return k, FromPublicKey, err
	case c.Production:
		return nil, "", ErrNoKeyInProduction
	}
	secret, err := devSecret(c.DevKeyFile, !c.DevKeyMustExist)
	if err != nil {
		return nil, "", err
	}
	k, err := HS256(secret)
	return k, FromDevKey, err
}

// DefaultDevKeyFile is where the development secret lives.
const DefaultDevKeyFile = "var/dev-jwt-secret"

// isDevSecret reports whether secret is the development secret stored at path.
func isDevSecret(path, secret string) bool {
	if path == "" {
		path = DefaultDevKeyFile
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator chooses the key file
	return err == nil && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(string(b))), []byte(strings.TrimSpace(secret))) == 1
}

func devSecret(path string, create bool) ([]byte, error) {
	if path == "" {
		path = DefaultDevKeyFile
	}
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- the operator chooses the key file
		s := strings.TrimSpace(string(b))
		if len(s) >= 32 {
			return []byte(s), nil
		}
	}
	if !create {
		return nil, fmt.Errorf("%w at %s", ErrNoDevKey, path)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return nil, fmt.Errorf("generate development key: %w", err)
	}
	secret := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store development key: %w", err)
	}
	if err := os.WriteFile(path, []byte(secret+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("store development key: %w", err)
	}
	return []byte(secret), nil
}
