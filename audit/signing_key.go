package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// Key files are PEM, the formats openssl reads: the private key PKCS#8 ("PRIVATE KEY"),
// the public key PKIX ("PUBLIC KEY"). A key's id is the first 8 bytes of the SHA-256 of the
// raw 32-byte public key, in hex: every checkpoint names the key that signed it.

// keyFileMode is the mode of a private key file: its owner's alone.
const keyFileMode os.FileMode = 0o600

// SigningKey is the Ed25519 private key the server signs checkpoints with.
type SigningKey struct {
	priv ed25519.PrivateKey
	id   string
}

// GenerateSigningKey returns a new random signing key.
func GenerateSigningKey() (*SigningKey, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate signing key: %w", err)
	}
	return newSigningKey(priv), nil
}

func newSigningKey(priv ed25519.PrivateKey) *SigningKey {
	pub, _ := priv.Public().(ed25519.PublicKey)
	return &SigningKey{priv: priv, id: KeyID(pub)}
}

// KeyID is the id checkpoints name pub by.
func KeyID(pub ed25519.PublicKey) string {
	s := sha256.Sum256(pub)
	return hex.EncodeToString(s[:8])
}

// ID is the key's id.
func (k *SigningKey) ID() string { return k.id }

// Public is the key's public half.
func (k *SigningKey) Public() ed25519.PublicKey {
	pub, _ := k.priv.Public().(ed25519.PublicKey)
	return pub
}

// PublicKeys is the set of keys one key id each.
func (k *SigningKey) PublicKeys() PublicKeys { return PublicKeys{k.id: k.Public()} }

func (k *SigningKey) sign(msg []byte) string { return hex.EncodeToString(ed25519.Sign(k.priv, msg)) }

// PrivatePEM is the private key as PKCS#8 PEM.
func (k *SigningKey) PrivatePEM() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		panic("invariant: an Ed25519 key marshals: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// PublicPEM is the public key as PKIX PEM.
func (k *SigningKey) PublicPEM() []byte { return PublicPEM(k.Public()) }

// PublicPEM is pub as PKIX PEM.
func PublicPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic("invariant: an Ed25519 public key marshals: " + err.Error())
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// WriteKeyFiles writes the private key to path (mode 0600, refusing to overwrite a file) and
// the public key to path+".pub" (0644: it is meant to be handed out).
func (k *SigningKey) WriteKeyFiles(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, keyFileMode) // #nosec G304 -- the operator names the key file
	if err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	_, err = f.Write(k.PrivatePEM())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write signing key: %w", err)
	}
	//nolint:gosec // a public key is public
	if err := os.WriteFile(path+".pub", k.PublicPEM(), 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	return nil
}

// ErrKeyFileMode: a private key file others can read.
var ErrKeyFileMode = errors.New("signing key file is readable by others")

// LoadSigningKey reads a PKCS#8 PEM Ed25519 private key from path, refusing a file whose mode
// lets group or others read it.
func LoadSigningKey(path string) (*SigningKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("%w: %s has mode %v; chmod 600 it", ErrKeyFileMode, path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path) // #nosec G304 -- the operator names the key file
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("signing key %s: not a PEM PRIVATE KEY (generate one with dotmac keys generate)", path)
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", path, err)
	}
	priv, ok := key.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("signing key %s: a %T, not an Ed25519 key", path, key)
	}
	return newSigningKey(priv), nil
}

// PublicKeys are the public keys a verification trusts, by key id.
type PublicKeys map[string]ed25519.PublicKey

// IDs lists the key ids, sorted.
func (p PublicKeys) IDs() []string {
	ids := make([]string, 0, len(p))
	for id := range p {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// ParsePublicKey reads a PKIX PEM Ed25519 public key.
func ParsePublicKey(b []byte) (ed25519.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("not a PEM PUBLIC KEY")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	pub, ok := key.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an Ed25519 public key", key)
	}
	return pub, nil
}

// LoadPublicKeys reads each PEM public key file of paths.
func LoadPublicKeys(paths ...string) (PublicKeys, error) {
	keys := PublicKeys{}
	for _, p := range paths {
		b, err := os.ReadFile(p) // #nosec G304 -- the auditor names the key file
		if err != nil {
			return nil, fmt.Errorf("public key: %w", err)
		}
		pub, err := ParsePublicKey(b)
		if err != nil {
			return nil, fmt.Errorf("public key %s: %w", p, err)
		}
		keys[KeyID(pub)] = pub
	}
	return keys, nil
}

// String names the keys for messages.
func (p PublicKeys) String() string { return strings.Join(p.IDs(), ", ") }
