package projections

import (
	"fmt"
	"hash/fnv"
	"regexp"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// maxIdentBytes is PostgreSQL's identifier limit (NAMEDATALEN - 1); longer names are
// silently truncated by the server, so the runtime never produces one.
const maxIdentBytes = 63

var (
	namePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)
	tablePattern = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// ValidName reports whether name is a valid projection name: a lower-case letter, then up to
// 39 lower-case letters, digits and '_'.
func ValidName(name string) bool { return namePattern.MatchString(name) }

// ValidSchemaName reports whether s can name a schema for an as-of copy (--into): lower-case
// letters, digits and '_', not starting with a digit, at most 63 bytes, not pg_*.
func ValidSchemaName(s string) bool {
	return tablePattern.MatchString(s) && (len(s) < 3 || s[:3] != "pg_")
}

// buildSchemaName names build n of projection in the application schema app:
// "<app>__<projection>_b<n>". A name over 63 bytes keeps a readable prefix and a hash of app
// and projection, so two applications sharing a long prefix still get different names.
func buildSchemaName(app, projection string, n int64) string {
	suffix := "_b" + strconv.FormatInt(n, 10)
	name := app + "__" + projection + suffix
	if len(name) <= maxIdentBytes {
		return name
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(app + "\x00" + projection))
	tag := fmt.Sprintf("_%08x", h.Sum32())
	base := app + "__" + projection
	return base[:maxIdentBytes-len(tag)-len(suffix)] + tag + suffix
}

// lockKey derives a PostgreSQL advisory lock key from the application schema, a purpose and
// a name, so parallel applications (test schemas) never share a lock.
func lockKey(app, purpose, name string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("dotmac.projections\x00" + purpose + "\x00" + app + "\x00" + name))
	return int64(h.Sum64() >> 1) //nolint:gosec // shifted into int64 range on purpose
}

// notifyChannel is the NOTIFY channel on which checkpoint changes of app's projections are
// announced (WaitFor listens on it).
func notifyChannel(app string) string {
	ch := "dotmac_pj." + app
	if len(ch) <= maxIdentBytes {
		return ch
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(app))
	return fmt.Sprintf("dotmac_pj.%x", h.Sum64())
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func qualified(schema, name string) string { return pgx.Identifier{schema, name}.Sanitize() }
