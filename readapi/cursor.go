package readapi

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/gorilla/mux"
)

// A cursor is the sort key of the last row of a page, so the next page starts right after
// it (keyset pagination: no offsets, no rows skipped or repeated when rows are added). It is
// opaque to clients: base64url of a JSON array [query fingerprint, key...] followed by a
// checksum. A cursor that was altered, or that comes from another endpoint or other filters,
// is a 400. The checksum detects tampering, not forgery: a forged cursor can only start a
// page at another key of the caller's own tenant, which the query scopes anyway.

// cursorSum is the length of a cursor's checksum.
const cursorSum = 8

var errBadCursor = errors.New("not a cursor this endpoint gave with these filters; start again without it")

// fingerprint identifies the query a cursor belongs to: the endpoint, its path variables
// and its filters (every parameter but the paging and consistency ones).
func (r *request) fingerprint() string {
	q := r.http.URL.Query()
	for _, p := range []string{paramLimit, paramCursor, paramMinPosition, paramWait} {
		q.Del(p)
	}
	vars := make([]string, 0, 2)
	for k, v := range mux.Vars(r.http) {
		vars = append(vars, k+"="+v)
	}
	slices.Sort(vars)
	sum := sha256.Sum256([]byte(r.rt.op + "\x00" + strings.Join(vars, "&") + "\x00" + q.Encode()))
	return base64.RawURLEncoding.EncodeToString(sum[:6])
}

// encodeCursor returns the cursor for key under fingerprint fp.
func encodeCursor(fp string, key ...string) string {
	payload, _ := json.Marshal(append([]string{fp}, key...)) // strings always marshal
	sum := sha256.Sum256(append([]byte("dotmac.readapi.cursor\x00"), payload...))
	return base64.RawURLEncoding.EncodeToString(append(payload, sum[:cursorSum]...))
}

// decodeCursor returns the key of cursor s, which must carry fingerprint fp.
func decodeCursor(s, fp string) ([]string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) <= cursorSum {
		return nil, errBadCursor
	}
	payload, got := raw[:len(raw)-cursorSum], raw[len(raw)-cursorSum:]
	sum := sha256.Sum256(append([]byte("dotmac.readapi.cursor\x00"), payload...))
	if !bytes.Equal(got, sum[:cursorSum]) {
		return nil, errBadCursor
	}
	var parts []string
	if err := json.Unmarshal(payload, &parts); err != nil || len(parts) < 2 || parts[0] != fp {
		return nil, errBadCursor
	}
	return parts[1:], nil
}
