package eventstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"
)

// DecodeMetadata parses stored metadata. Replaying history decodes it once per event, and
// encoding/json's reflection was half of a replay's CPU, so metadata written by this package
// (a flat object of plain strings) takes a direct path; anything else — escapes, other value
// types, unknown keys — falls back to encoding/json, with the same result.
func DecodeMetadata(raw []byte) (Metadata, error) {
	if m, ok := decodeMetadataFast(raw); ok {
		return m, nil
	}
	var m Metadata
	if err := json.Unmarshal(raw, &m); err != nil {
		return Metadata{}, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}

func decodeMetadataFast(raw []byte) (Metadata, bool) {
	var m Metadata
	p := raw
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return m, false
	}
	// Every string field is a slice of one copy of raw, made at the first value: one
	// allocation per event instead of one per field.
	all := ""
	p = p[1 : len(p)-1]
	for len(p) > 0 {
		key, rest, ok := plainString(p)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return m, false
		}
		val, rest, ok := plainString(rest[1:])
		if !ok {
			return m, false
		}
		if all == "" {
			all = string(raw)
		}
		at := cap(raw) - cap(val) // val was sliced from raw: its offset shows in its capacity
		if !m.set(key, all[at:at+len(val)]) {
			return m, false
		}
		switch {
		case len(rest) == 0:
			p = rest
		case rest[0] == ',' && len(rest) > 1:
			p = rest[1:]
		default:
			return m, false
		}
	}
	return m, true
}

// plainString reads a JSON string without escapes or control characters at the start of p.
func plainString(p []byte) (s []byte, rest []byte, ok bool) {
	if len(p) < 2 || p[0] != '"' {
		return nil, nil, false
	}
	end := bytes.IndexByte(p[1:], '"')
	if end < 0 {
		return nil, nil, false
	}
	s = p[1 : 1+end]
	for _, c := range s {
		if c == '\\' || c < 0x20 {
			return nil, nil, false
		}
	}
	return s, p[2+end:], true
}

// set sets the field named key to str.
func (m *Metadata) set(key []byte, str string) bool {
	switch string(key) {
	case "tenant_id":
		m.TenantID = str
	case "actor":
		m.Actor = str
	case "correlation_id":
		m.CorrelationID = str
	case "causation_id":
		m.CausationID = str
	case "command_id":
		m.CommandID = str
	case "idempotency_key":
		m.IdempotencyKey = str
	case "request_id":
		m.RequestID = str
	case "recorded_at":
		t, ok := quickUTC(str)
		if !ok {
			var err error
			if t, err = time.Parse(time.RFC3339Nano, str); err != nil {
				return false
			}
		}
		m.RecordedAt = t
	default:
		return false
	}
	return true
}

// quickUTC reads the instants this package writes, "2006-01-02T15:04:05.999999999Z" (no
// fraction, or one to nine digits), without time.Parse's generality; anything else, or a
// field out of range, is left to time.Parse.
func quickUTC(b string) (time.Time, bool) {
	const layout = "2006-01-02T15:04:05"
	n := len(layout)
	if len(b) < n+1 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	var f [6]int // year, month, day, hour, minute, second
	for i, r := range [6][2]int{{0, 4}, {5, 7}, {8, 10}, {11, 13}, {14, 16}, {17, 19}} {
		for _, c := range b[r[0]:r[1]] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			f[i] = f[i]*10 + int(c-'0')
		}
	}
	nsec := 0
	if frac := b[n : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return time.Time{}, false
		}
		for _, c := range frac[1:] {
			if c < '0' || c > '9' {
				return time.Time{}, false
			}
			nsec = nsec*10 + int(c-'0')
		}
		for range 10 - len(frac) {
			nsec *= 10
		}
	}
	if f[3] > 23 || f[4] > 59 || f[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(f[0], time.Month(f[1]), f[2], f[3], f[4], f[5], nsec, time.UTC)
	if t.Year() != f[0] || int(t.Month()) != f[1] || t.Day() != f[2] { // no such date: normalized
		return time.Time{}, false
	}
	return t, true
}
