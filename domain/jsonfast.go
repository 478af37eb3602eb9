package domain

import (
	"bytes"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
)

// Replaying history decodes every stored event, and the nested json.Unmarshal calls of the
// value types (each re-validating its bytes) were most of that cost. The two helpers below
// take the bytes encoding/json would have decoded when they are written the way this package
// writes them — plain strings, and Money's flat two-field object — and leave everything else
// to encoding/json, so the result is the same either way (FuzzPlainJSONString checks it).

// plainJSONString returns the contents of data when it is a JSON string without escapes or
// control characters, made of valid UTF-8.
func plainJSONString(data []byte) (string, bool) {
	if len(data) < 2 || data[0] != '"' || data[len(data)-1] != '"' {
		return "", false
	}
	inner := data[1 : len(data)-1]
	for _, c := range inner {
		if c == '\\' || c == '"' || c < 0x20 {
			return "", false
		}
	}
	if !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}

// plainMoneyJSON reads {"amount":"...","currency":"..."} (either order, no whitespace, plain
// strings) as MarshalJSON writes it.
func plainMoneyJSON(data []byte) (moneyJSON, bool) {
	var out moneyJSON
	if len(data) < 2 || data[0] != '{' || data[len(data)-1] != '}' {
		return out, false
	}
	rest := data[1 : len(data)-1]
	seen := 0
	for len(rest) > 0 {
		key, val, tail, ok := plainPair(rest)
		if !ok {
			return out, false
		}
		switch key {
		case "amount":
			out.Amount = val
		case "currency":
			out.Currency = val
		default:
			return out, false
		}
		seen++
		rest = tail
	}
	return out, seen == 2
}

// plainPair reads `"key":"value"` and an optional following comma.
func plainPair(p []byte) (key, val string, rest []byte, ok bool) {
	k, p, ok := cutPlainString(p)
	if !ok || len(p) == 0 || p[0] != ':' {
		return "", "", nil, false
	}
	v, p, ok := cutPlainString(p[1:])
	if !ok {
		return "", "", nil, false
	}
	if len(p) > 0 {
		if p[0] != ',' || len(p) == 1 {
			return "", "", nil, false
		}
		p = p[1:]
	}
	return k, v, p, true
}

func cutPlainString(p []byte) (string, []byte, bool) {
	if len(p) < 2 || p[0] != '"' {
		return "", nil, false
	}
	end := bytes.IndexByte(p[1:], '"')
	if end < 0 {
		return "", nil, false
	}
	s, ok := plainJSONString(p[:end+2])
	return s, p[end+2:], ok
}

// The two fast paths below decode, without allocating, the exact bytes MarshalJSON writes for
// the two value types every event holds many of: ids and Money. Anything else (other
// spacing, key order, escapes, null, an invalid value) goes the general way, which gives the
// same result or the error (FuzzQuotedUUID and FuzzQuickMoney check it).

// quotedUUID returns the UUID of data when it is a JSON string holding a canonical lower-case
// UUID ("01a23af8-256d-703d-969f-c72b215e96bb").
func quotedUUID(data []byte) (uuid.UUID, bool) {
	if len(data) != 38 || data[0] != '"' || data[37] != '"' ||
		data[9] != '-' || data[14] != '-' || data[19] != '-' || data[24] != '-' {
		return uuid.Nil, false
	}
	var u uuid.UUID
	bad := byte(0)
	for j, at := range uuidHexAt {
		hi, lo := hexValue[data[at]], hexValue[data[at+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo&0x0f
	}
	if bad&0xf0 != 0 {
		return uuid.Nil, false
	}
	return u, true
}

// uuidHexAt is where each byte's two hex digits start in a quoted canonical UUID.
var uuidHexAt = [16]int{1, 3, 5, 7, 10, 12, 15, 17, 20, 22, 25, 27, 29, 31, 33, 35}

// hexValue maps '0'-'9' and 'a'-'f' to their values and every other byte to 0xff.
var hexValue = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for c := byte('0'); c <= '9'; c++ {
		t[c] = c - '0'
	}
	for c := byte('a'); c <= 'f'; c++ {
		t[c] = c - 'a' + 10
	}
	return t
}()

// currencyByCode holds each supported Currency by its code, so a code read from bytes finds
// its Currency without allocating a string.
var currencyByCode = func() map[string]Currency {
	m := make(map[string]Currency, len(minorUnits))
	for code := range minorUnits {
		m[code] = Currency{code: code}
	}
	return m
}()

// pow10 holds 10^0 .. 10^18.
var pow10 = func() [19]int64 {
	var p [19]int64
	p[0] = 1
	for i := 1; i < len(p); i++ {
		p[i] = p[i-1] * 10
	}
	return p
}()

// quickMoney returns the Money of data when it is exactly {"amount":"A","currency":"C"} with
// C a supported currency and A a valid amount in it (an optional '-', no leading zeros, at
// most the currency's decimals) that fits in 18 digits.
func quickMoney(data []byte) (Money, bool) {
	const head, mid, tail = `{"amount":"`, `","currency":"`, `"}`
	if len(data) < len(head)+1+len(mid)+3+len(tail) || string(data[:len(head)]) != head ||
		string(data[len(data)-len(tail):]) != tail {
		return Money{}, false
	}
	rest := data[len(head) : len(data)-len(tail)]
	// The currency code is the last three bytes, after mid.
	if len(rest) < len(mid)+3 || string(rest[len(rest)-3-len(mid):len(rest)-3]) != mid {
		return Money{}, false
	}
	c, ok := currencyByCode[string(rest[len(rest)-3:])]
	if !ok {
		return Money{}, false
	}
	amount := rest[:len(rest)-3-len(mid)]
	neg := len(amount) > 0 && amount[0] == '-'
	if neg {
		amount = amount[1:]
	}
	intPart, frac := amount, []byte(nil)
	if dot := bytes.IndexByte(amount, '.'); dot >= 0 {
		intPart, frac = amount[:dot], amount[dot+1:]
		if len(frac) == 0 {
			return Money{}, false
		}
	}
	places := int(c.MinorUnits())
	if len(intPart) == 0 || (len(intPart) > 1 && intPart[0] == '0') || len(frac) > places ||
		len(intPart)+places > len(pow10)-1 {
		return Money{}, false
	}
	var coef int64
	for _, part := range [2][]byte{intPart, frac} {
		for _, d := range part {
			if d < '0' || d > '9' {
				return Money{}, false
			}
			coef = coef*10 + int64(d-'0')
		}
	}
	coef *= pow10[places-len(frac)]
	if neg {
		coef = -coef
	}
	return Money{amount: decimal.New(coef, -int32(places)), currency: c}, true //nolint:gosec // places <= 3
}

// The UnmarshalJSONPrefix methods below read a value the way its fast path above does, from
// the start of a longer input that nothing has scanned yet: n is the length of the value and
// data[:n] exactly the bytes UnmarshalJSON would be given, decoded to the same value. false
// (v unchanged) for anything the fast path does not take; the caller then finds the value's
// end itself and calls UnmarshalJSON. Decoding event payloads (internal/fastjson) uses them
// to read each id, date and amount in one pass instead of two.

// UnmarshalJSONPrefix reads {"amount":"A","currency":"C"} (see quickMoney).
func (m *Money) UnmarshalJSONPrefix(data []byte) (int, bool) {
	const head, mid, tail = `{"amount":"`, `","currency":"`, `"}`
	if len(data) < len(head) || string(data[:len(head)]) != head {
		return 0, false
	}
	a := bytes.IndexByte(data[len(head):], '"')
	n := len(head) + a + len(mid) + 3 + len(tail)
	if a < 0 || n > len(data) {
		return 0, false
	}
	v, ok := quickMoney(data[:n])
	if ok {
		*m = v
	}
	return n, ok
}

// UnmarshalJSONPrefix reads a quoted canonical UUID (see quotedUUID).
func (id *ID[K]) UnmarshalJSONPrefix(data []byte) (int, bool) {
	const n = 38
	if len(data) < n {
		return 0, false
	}
	u, ok := quotedUUID(data[:n])
	if !ok {
		return 0, false
	}
	v, err := idFromUUID[K](u)
	if err != nil {
		return 0, false
	}
	*id = v
	return n, true
}

// UnmarshalJSONPrefix reads "YYYY-MM-DD" holding a valid date (what ParseDate accepts).
func (d *Date) UnmarshalJSONPrefix(data []byte) (int, bool) {
	const n = len(`"2006-01-02"`)
	if len(data) < n || data[0] != '"' || data[5] != '-' || data[8] != '-' || data[11] != '"' {
		return 0, false
	}
	y, okY := fixedDigits(data[1:5])
	m, okM := fixedDigits(data[6:8])
	day, okD := fixedDigits(data[9:11])
	if !okY || !okM || !okD {
		return 0, false
	}
	v, err := NewDate(y, time.Month(m), day)
	if err != nil {
		return 0, false
	}
	*d = v
	return n, true
}

// UnmarshalJSONPrefix reads "YYYY-MM" holding a valid month (what ParsePeriod accepts).
func (p *Period) UnmarshalJSONPrefix(data []byte) (int, bool) {
	const n = len(`"2006-01"`)
	if len(data) < n || data[0] != '"' || data[5] != '-' || data[8] != '"' {
		return 0, false
	}
	y, okY := fixedDigits(data[1:5])
	m, okM := fixedDigits(data[6:8])
	if !okY || !okM {
		return 0, false
	}
	v, err := NewPeriod(y, time.Month(m))
	if err != nil {
		return 0, false
	}
	*p = v
	return n, true
}

// fixedDigits reads b, ASCII digits only.
func fixedDigits(b []byte) (int, bool) {
	v := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}
