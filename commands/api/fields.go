package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/shopspring/decimal"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/internal/httpx"
)

// value is one JSON value of a request body, kept raw when the body is decoded: its type is
// checked when the field is parsed, so that one 400 lists every invalid field instead of the
// first wrong type. A field that is absent or null is empty.
type value []byte

// UnmarshalJSON keeps the raw value.
func (v *value) UnmarshalJSON(b []byte) error {
	*v = append((*v)[:0], b...)
	return nil
}

func (v value) empty() bool { return len(v) == 0 || string(v) == "null" }

// jsonKind names the JSON type of v for error messages.
func (v value) kind() string {
	switch c := bytes.TrimSpace(v); {
	case len(c) == 0:
		return "nothing"
	case c[0] == '"':
		return "a string"
	case c[0] == '{':
		return "an object"
	case c[0] == '[':
		return "an array"
	case c[0] == 't' || c[0] == 'f':
		return "a boolean"
	case c[0] == 'n':
		return "null"
	}
	return "a number"
}

// maxAmount is 10^MaxCommandAmountDigits: every amount of a command is below it.
var maxAmount = decimal.New(1, domain.MaxCommandAmountDigits)

// fields collects every invalid field of one request.
type fields struct {
	errs []httpx.FieldError
}

func (f *fields) fail(name, reason string) {
	f.errs = append(f.errs, httpx.FieldError{Field: name, Reason: reason})
}

// failErr records a parse error, quoting what was refused when the domain says.
func (f *fields) failErr(name string, err error) {
	var iv *domain.InvalidValueError
	if errors.As(err, &iv) {
		f.fail(name, reasonOf(iv))
		return
	}
	f.fail(name, err.Error())
}

// reasonOf says why the domain refused a value, quoting it (shortened).
func reasonOf(iv *domain.InvalidValueError) string {
	const maxQuotedBytes = 64
	v := iv.Value
	switch {
	case v == "":
		return iv.Reason
	case len(v) > maxQuotedBytes:
		v = v[:maxQuotedBytes] + "..."
	}
	return fmt.Sprintf("%q: %s", v, iv.Reason)
}

// problem returns the 400 listing every failure, or nil.
func (f *fields) problem() error {
	if len(f.errs) == 0 {
		return nil
	}
	return httpx.BadRequest(fmt.Sprintf("%d invalid field(s)", len(f.errs)), f.errs...)
}

// str returns the JSON string v; an empty required one is a failure.
func (f *fields) str(name string, v value, required bool) string {
	s, _ := f.strOK(name, v, required)
	return s
}

// strOK is str, also reporting whether v was a valid string (or validly absent).
func (f *fields) strOK(name string, v value, required bool) (string, bool) {
	if v.empty() {
		if required {
			f.fail(name, "required")
		}
		return "", !required
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		f.fail(name, "must be a string, not "+v.kind())
		return "", false
	}
	return s, true
}

// boolean returns the JSON boolean v (absent: false).
func (f *fields) boolean(name string, v value) bool {
	if v.empty() {
		return false
	}
	var b bool
	if err := json.Unmarshal(v, &b); err != nil {
		f.fail(name, "must be true or false, not "+v.kind())
	}
	return b
}

// integer returns the JSON integer v, or def when absent.
func (f *fields) integer(name string, v value, def, lo, hi int) int {
	if v.empty() {
		return def
	}
	var n int
	if err := json.Unmarshal(v, &n); err != nil || n < lo || n > hi {
		f.fail(name, fmt.Sprintf("must be a whole number from %d to %d", lo, hi))
	}
	return n
}

// parsed parses the JSON string v with parse; absent is the zero T (a failure if required).
func parsed[T any](f *fields, name string, v value, required bool, parse func(string) (T, error)) T {
	var zero T
	s, ok := f.strOK(name, v, required)
	if !ok || s == "" {
		if ok && required && !v.empty() {
			f.fail(name, "must not be empty")
		}
		return zero
	}
	out, err := parse(s)
	if err != nil {
		f.failErr(name, err)
		return zero
	}
	return out
}

// moneyJSON is how money is written: {"amount": "79.99", "currency": "USD"}.
type moneyJSON struct {
	Amount   value `json:"amount"`
	Currency value `json:"currency"`
}

// Rules for an amount.
type amountRule int

const (
	positive    amountRule = iota // > 0
	nonNegative                   // >= 0
	anySign                       // a credit line may be negative
	nonZero                       // != 0, either sign (an opening balance)
)

// money parses {"amount":"79.99","currency":"USD"}: the amount a decimal string (a JSON number
// is refused: it loses precision), below 10^12, with the currency's minor units at most.
func (f *fields) money(name string, v value, required bool, rule amountRule) domain.Money {
	if v.empty() {
		if required {
			f.fail(name, "required")
		}
		return domain.Money{}
	}
	var mj moneyJSON
	dec := json.NewDecoder(bytes.NewReader(v))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&mj); err != nil {
		f.fail(name, `must be an object {"amount": "79.99", "currency": "USD"}, not `+v.kind())
		return domain.Money{}
	}
	cur := parsed(f, name+".currency", mj.Currency, true, domain.ParseCurrency)
	if !mj.Amount.empty() && mj.Amount.kind() != "a string" {
		f.fail(name+".amount", `must be a decimal string such as "79.99", not `+mj.Amount.kind()+" (JSON numbers lose precision)")
		return domain.Money{}
	}
	amount := f.str(name+".amount", mj.Amount, true)
	if cur.IsZero() || amount == "" {
		return domain.Money{}
	}
	m, err := domain.ParseAmount(amount, cur)
	if err != nil {
		f.failErr(name+".amount", err)
		return domain.Money{}
	}
	f.checkAmount(name+".amount", m, rule)
	return m
}

func (f *fields) checkAmount(name string, m domain.Money, rule amountRule) {
	switch {
	case m.Amount().Abs().GreaterThanOrEqual(maxAmount):
		f.fail(name, fmt.Sprintf("%q: must be below 10^%d", m.AmountString(), domain.MaxCommandAmountDigits))
	case rule == positive && !m.IsPositive():
		f.fail(name, fmt.Sprintf("%q: must be greater than zero", m.AmountString()))
	case rule == nonNegative && m.IsNegative():
		f.fail(name, fmt.Sprintf("%q: must not be negative", m.AmountString()))
	case rule == nonZero && m.IsZero():
		f.fail(name, fmt.Sprintf("%q: must not be zero", m.AmountString()))
	}
}

// instant parses an RFC 3339 timestamp, or a date (its start, UTC).
func (f *fields) instant(name string, v value, required bool) time.Time {
	return parsed(f, name, v, required, func(s string) (time.Time, error) {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err == nil {
			return t, nil
		}
		if d, derr := domain.ParseDate(s); derr == nil {
			return d.Time(), nil
		}
		return time.Time{}, &domain.InvalidValueError{Field: name, Value: s,
			Reason: "want an RFC 3339 instant such as 2026-01-10T09:00:00Z, or a date such as 2026-01-10"}
	})
}

// ip parses an optional IPv4 or IPv6 address.
func (f *fields) ip(name string, v value) netip.Addr {
	return parsed(f, name, v, false, func(s string) (netip.Addr, error) {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Addr{}, &domain.InvalidValueError{Field: name, Value: s, Reason: "want an IPv4 or IPv6 address"}
		}
		return a, nil
	})
}

// decode reads body into dst (a struct of value fields), refusing unknown fields and
// anything but one JSON object.
func decode(body []byte, dst any) error { return httpx.DecodeJSONBytes(body, dst) }

// pathID parses a path variable.
func pathID[T any](f *fields, req *request, name string, parse func(string) (T, error)) T {
	out, err := parse(req.vars[name])
	if err != nil {
		f.failErr(name, err)
	}
	return out
}
