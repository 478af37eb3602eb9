package domain

import (
	"bytes"
	"unicode/utf8"
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
