package httpx

import (
	"net/url"
	"strings"
)

// checkQuery returns a 400 naming the first query parameter that does not parse: one holding
// a ";" (which net/url refuses as a separator and then drops the whole pair, so a filter would
// silently vanish) or a malformed %-escape. It returns nil for a query that parses.
func checkQuery(raw string) *Problem {
	if _, err := url.ParseQuery(raw); err == nil {
		return nil
	}
	for pair := range strings.SplitSeq(raw, "&") {
		name, value, _ := strings.Cut(pair, "=")
		reason := ""
		switch {
		case strings.Contains(pair, ";"):
			reason = `contains ";", which is not a separator here; escape it as %3B`
		case !unescapes(name) || !unescapes(value):
			reason = "holds a malformed %-escape"
		default:
			continue
		}
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		return BadRequest("the query string does not parse: parameter "+quote(name)+" "+reason,
			FieldError{Field: name, Reason: reason})
	}
	return BadRequest("the query string does not parse")
}

func unescapes(s string) bool {
	_, err := url.QueryUnescape(s)
	return err == nil
}

func quote(s string) string { return `"` + s + `"` }
