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
	p = p[1 : len(p)-1]
	for len(p) > 0 {
		key, rest, ok := plainString(p)
		if !ok || len(rest) == 0 || rest[0] != ':' {
			return m, false
		}
		val, rest, ok := plainString(rest[1:])
		if !ok || !m.set(key, val) {
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

func (m *Metadata) set(key, val []byte) bool {
	switch string(key) {
	case "tenant_id":
		m.TenantID = string(val)
	case "actor":
		m.Actor = string(val)
	case "correlation_id":
		m.CorrelationID = string(val)
	case "causation_id":
		m.CausationID = string(val)
	case "command_id":
		m.CommandID = string(val)
	case "idempotency_key":
		m.IdempotencyKey = string(val)
	case "request_id":
		m.RequestID = string(val)
	case "recorded_at":
		t, err := time.Parse(time.RFC3339Nano, string(val))
		if err != nil {
			return false
		}
		m.RecordedAt = t
	default:
		return false
	}
	return true
}
