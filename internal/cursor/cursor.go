// Package cursor makes and reads the opaque cursors of keyset pagination: base64url of a JSON
// array [scope, key...] followed by a checksum, so a cursor that was altered, or that belongs
// to another list (another scope), is refused. The checksum detects tampering, not forgery:
// a forged cursor can only start a page at another key of a list the caller may read anyway.
package cursor

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
)

// sumLen is the length of a cursor's checksum.
const sumLen = 8

// ErrInvalid is returned for a cursor that was altered, is not a cursor, or belongs to
// another scope.
var ErrInvalid = errors.New("not a cursor of this list")

// Codec makes and reads the cursors of one API; its domain separates their checksums from
// another API's.
type Codec struct {
	domain string
}

// New returns the codec of the named API (e.g. "dotmac.readapi.cursor").
func New(domain string) Codec { return Codec{domain: domain + "\x00"} }

// Encode returns the cursor of key within scope (the list and its filters).
func (c Codec) Encode(scope string, key ...string) string {
	payload, _ := json.Marshal(append([]string{scope}, key...)) // strings always marshal
	return base64.RawURLEncoding.EncodeToString(append(payload, c.sum(payload)...))
}

// Decode returns the key of cursor s, which must have been made within scope.
func (c Codec) Decode(s, scope string) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= sumLen {
		return nil, ErrInvalid
	}
	payload, got := raw[:len(raw)-sumLen], raw[len(raw)-sumLen:]
	if !bytes.Equal(got, c.sum(payload)) {
		return nil, ErrInvalid
	}
	var parts []string
	if err := json.Unmarshal(payload, &parts); err != nil || len(parts) < 2 || parts[0] != scope {
		return nil, ErrInvalid
	}
	return parts[1:], nil
}

func (c Codec) sum(payload []byte) []byte {
	sum := sha256.Sum256(append([]byte(c.domain), payload...))
	return sum[:sumLen]
}
