package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// A signed checkpoint anchors the hash chain outside the database. Each checkpoint covers a
// span of the feed, the events with PrevPosition < position <= Position, and commits to them
// and to every event before them:
//
//	marks  = for each event of the span in feed order: position (8 bytes, big-endian) || stored hash (32 bytes)
//	digest = SHA-256("dotmac checkpoint digest v1\n" || prev_digest (32 bytes) || marks)
//
// where prev_digest is the digest of the checkpoint before (32 zero bytes for the first). The
// signature is Ed25519 over the text of Message: an auditor can rebuild it with printf and
// check it with openssl and the public key alone (docs/audit.md). The key lives in a file, never
// in the database, so an insider who rewrites es_events and recomputes its hashes cannot make
// the signed digests match.

// MaxCheckpointEvents is the most events one checkpoint covers: a longer stretch is signed as
// several checkpoints, which bounds the marks a row keeps and the range a mismatch names.
const MaxCheckpointEvents = 10_000

// markSize is the size of one event's mark in a checkpoint's marks.
const markSize = 8 + eventstore.HashSize

const (
	digestDomain  = "dotmac checkpoint digest v1\n"
	messageHeader = "dotmac checkpoint v1\n"
)

// Checkpoint is one signed checkpoint. Digests and the signature are lower-case hex.
type Checkpoint struct {
	Position     eventstore.Position `json:"position"`
	PrevPosition eventstore.Position `json:"prev_position"`
	PrevDigest   string              `json:"prev_digest"`
	Digest       string              `json:"digest"`
	Events       int                 `json:"events"`
	SignedAt     time.Time           `json:"signed_at"`
	KeyID        string              `json:"key_id"`
	Signature    string              `json:"signature"`
	// Marks are the span's event marks (see the package comment), hex in an export; a
	// checkpoint read for verification leaves them out until they are needed.
	Marks string `json:"marks,omitempty"`
}

// zeroDigest is the prev_digest of the first checkpoint.
var zeroDigest = strings.Repeat("0", 2*sha256.Size)

// Message is the text a checkpoint's signature covers, one "name value" line per field.
func (c *Checkpoint) Message() []byte {
	return fmt.Appendf(nil, "%skey_id %s\nprev_position %d\nprev_digest %s\nposition %d\ndigest %s\nevents %d\nsigned_at %s\n",
		messageHeader, c.KeyID, c.PrevPosition, c.PrevDigest, c.Position, c.Digest, c.Events, c.SignedAt.UTC().Format(time.RFC3339Nano))
}

// CheckSignature checks c's signature with the public key of its key id in keys.
func (c *Checkpoint) CheckSignature(keys PublicKeys) error {
	pub, ok := keys[c.KeyID]
	if !ok {
		return fmt.Errorf("%w: checkpoint at position %d is signed by key %s, not by any public key given (%s)",
			ErrBadSignature, c.Position, c.KeyID, strings.Join(keys.IDs(), ", "))
	}
	sig, err := hex.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.Message(), sig) {
		return fmt.Errorf("%w: the signature of the checkpoint at position %d does not verify with key %s: the checkpoint was altered or forged",
			ErrBadSignature, c.Position, c.KeyID)
	}
	return nil
}

// ErrBadSignature: a checkpoint's signature does not verify with the public keys given.
var ErrBadSignature = errors.New("checkpoint signature invalid")

// spanDigest starts the digest of a span after prevDigest (hex).
type spanDigest struct {
	buf []byte // digestDomain || prev digest || marks: hashed at once when the span ends
}

func newSpanDigest(prevDigest string) (*spanDigest, error) {
	prev, err := hex.DecodeString(prevDigest)
	if err != nil || len(prev) != sha256.Size {
		return nil, fmt.Errorf("prev_digest %q is not %d hex-encoded bytes", prevDigest, sha256.Size)
	}
	return &spanDigest{buf: append([]byte(digestDomain), prev...)}, nil
}

func (d *spanDigest) add(pos eventstore.Position, hash []byte) {
	d.buf = binary.BigEndian.AppendUint64(d.buf, uint64(pos))
	d.buf = append(d.buf, hash...)
}

func (d *spanDigest) events() int { return (len(d.buf) - len(digestDomain) - sha256.Size) / markSize }

func (d *spanDigest) marks() []byte { return d.buf[len(digestDomain)+sha256.Size:] }

func (d *spanDigest) sum() string {
	s := sha256.Sum256(d.buf)
	return hex.EncodeToString(s[:])
}

// SpanDigest returns the digest of a span whose marks (binary) follow prevDigest (hex).
func SpanDigest(prevDigest string, marks []byte) (string, error) {
	d, err := newSpanDigest(prevDigest)
	if err != nil {
		return "", err
	}
	d.buf = append(d.buf, marks...)
	return d.sum(), nil
}

// mark is one event's place and stored hash in a checkpoint's marks.
type mark struct {
	pos  eventstore.Position
	hash []byte
}

// parseMarks splits a span's marks (binary) into positions and hashes.
func parseMarks(b []byte) ([]mark, error) {
	if len(b)%markSize != 0 {
		return nil, fmt.Errorf("marks of %d bytes are not a whole number of %d-byte marks", len(b), markSize)
	}
	out := make([]mark, 0, len(b)/markSize)
	for i := 0; i < len(b); i += markSize {
		out = append(out, mark{pos: eventstore.Position(binary.BigEndian.Uint64(b[i:])), hash: b[i+8 : i+markSize]})
	}
	return out, nil
}

func beUint64(b []byte) uint64 { return binary.BigEndian.Uint64(b) }

func hexString(b []byte) string { return hex.EncodeToString(b) }
