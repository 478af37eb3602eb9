package readapi

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dotmac/ledger/domain"

	"github.com/google/uuid"
)

var (
	planCodePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_]{0,63}$`)
	// accounts is the domain's chart of accounts, by code.
	accounts = func() map[int]string {
		m := map[int]string{}
		for _, a := range domain.ChartOfAccounts() {
			m[int(a)] = a.Name()
		}
		return m
	}()
)

// query returns the query parameter name ("" when absent).
func (r *request) query(name string) string { return r.http.URL.Query().Get(name) }

// id parses s (a path or query value named field) as a canonical UUID; "" stays "".
func (r *request) id(field, s string) string {
	if s == "" {
		return ""
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		r.fail(field, "want a canonical lower-case UUID such as 0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f")
		return ""
	}
	return s
}

// pathID is the path variable name, which must be a UUID.
func (r *request) pathID(name string) string {
	return r.id(name, r.vars(name))
}

// queryID is the optional query parameter name, a UUID.
func (r *request) queryID(name string) string { return r.id(name, r.query(name)) }

// enum is the optional query parameter name, one of allowed.
func (r *request) enum(name string, allowed ...string) string {
	s := r.query(name)
	if s == "" {
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	r.fail(name, "want one of "+strings.Join(allowed, ", "))
	return ""
}

// date is the optional query parameter name, a YYYY-MM-DD date.
func (r *request) date(name string) (time.Time, bool) {
	s := r.query(name)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		r.fail(name, "want a date YYYY-MM-DD")
		return time.Time{}, false
	}
	return t, true
}

// month is the optional query parameter name, a YYYY-MM month (its first day).
func (r *request) month(name string) (time.Time, bool) {
	s := r.query(name)
	if s == "" {
		return time.Time{}, false
	}
	t, err := time.Parse("2006-01", s)
	if err != nil {
		r.fail(name, "want a month YYYY-MM")
		return time.Time{}, false
	}
	return t, true
}

// boolean is the optional query parameter name, true or false.
func (r *request) boolean(name string) (value, present bool) {
	switch r.query(name) {
	case "":
		return false, false
	case "true":
		return true, true
	case "false":
		return false, true
	}
	r.fail(name, "want true or false")
	return false, false
}

// planCode is the optional query parameter name, a plan code.
func (r *request) planCode(name, s string) string {
	if s != "" && !planCodePattern.MatchString(s) {
		r.fail(name, "want a plan code: 1 to 64 of a-z, 0-9 and _, such as fiber_100")
		return ""
	}
	return s
}

// account is the optional query parameter name, an account of the chart.
func (r *request) account(name string) int {
	s := r.query(name)
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if _, ok := accounts[n]; err != nil || !ok {
		r.fail(name, "want an account of the chart: 1000, 1100, 2100, 2200, 4000 or 4900")
		return 0
	}
	return n
}

// positionParam is the optional query parameter name, a non-negative integer.
func (r *request) positionParam(name string) (uint64, bool) {
	s := r.query(name)
	if s == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(s, 10, 63)
	if err != nil {
		r.fail(name, "want a non-negative integer position")
		return 0, false
	}
	return n, true
}

// Bounds of the free-text parameters.
const (
	// maxSearchLen bounds /v1/customers?q= in characters.
	maxSearchLen = 100
	// maxNumberLen bounds an invoice number filter in characters.
	maxNumberLen = 64
)

// likeEscaper escapes the LIKE wildcards of a search text (the default escape is \).
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// text is the optional free-text query parameter name, trimmed, at most most characters.
func (r *request) text(name string, most int) string {
	s := strings.TrimSpace(r.query(name))
	if utf8.RuneCountInString(s) > most {
		r.fail(name, fmt.Sprintf("at most %d characters", most))
		return ""
	}
	return s
}
