package readapi

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/internal/cursor"
)

// A cursor is the sort key of the last row of a page, so the next page starts right after
// it (keyset pagination: no offsets, no rows skipped or repeated when rows are added). It is
// opaque to clients: base64url of a JSON array [query fingerprint, key...] followed by a
// checksum. A cursor that was altered, or that comes from another endpoint or other filters,
// is a 400. The checksum detects tampering, not forgery: a forged cursor can only start a
// page at another key of the caller's own tenant, which the query scopes anyway.

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

// cursors makes and reads the query API's cursors.
var cursors = cursor.New("dotmac.readapi.cursor")

// encodeCursor returns the cursor for key under fingerprint fp.
func encodeCursor(fp string, key ...string) string { return cursors.Encode(fp, key...) }

// decodeCursor returns the key of cursor s, which must carry fingerprint fp.
func decodeCursor(s, fp string) ([]string, error) {
	key, err := cursors.Decode(s, fp)
	if err != nil {
		return nil, errBadCursor
	}
	return key, nil
}
