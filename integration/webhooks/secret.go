package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SecretPrefix starts a Standard Webhooks signing secret: "whsec_" then the key in base64.
const SecretPrefix = "whsec_"

// Bounds of a secret's key, in bytes (the Standard Webhooks spec asks for 24 to 64).
const (
	secretMinBytes     = 24
	secretMaxBytes     = 64
	generatedKeyBytes  = 32
	signatureVersionV1 = "v1"
)

// ErrBadSecret: a secret given at registration is not "whsec_" and the base64 of 24 to 64
// bytes.
var ErrBadSecret = errors.New("want whsec_ followed by the base64 of 24 to 64 random bytes")

// Secret is an endpoint's signing key, made with NewSecret or ParseSecret.
type Secret struct {
	key []byte
}

// NewSecret returns a fresh random secret of 32 bytes.
func NewSecret() Secret {
	key := make([]byte, generatedKeyBytes)
	_, _ = rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	return Secret{key: key}
}

// ParseSecret reads a secret in its "whsec_<base64>" form.
func ParseSecret(s string) (Secret, error) {
	b64, ok := strings.CutPrefix(s, SecretPrefix)
	if !ok {
		return Secret{}, ErrBadSecret
	}
	key, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) < secretMinBytes || len(key) > secretMaxBytes {
		return Secret{}, ErrBadSecret
	}
	return Secret{key: key}, nil
}

// String is the secret's "whsec_<base64>" form, the one shown to the endpoint's owner.
func (s Secret) String() string { return SecretPrefix + base64.StdEncoding.EncodeToString(s.key) }

// Sign returns the webhook-signature header value of a message: "v1," and the base64 of
// HMAC-SHA256(key, "<id>.<unix seconds>.<body>"), per the Standard Webhooks spec.
func (s Secret) Sign(id string, at time.Time, body []byte) string {
	mac := hmac.New(sha256.New, s.key)
	mac.Write([]byte(id + "." + strconv.FormatInt(at.Unix(), 10) + "."))
	mac.Write(body)
	return signatureVersionV1 + "," + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}
