package kurrentdb

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// Envelopes to and from the client's EventData and RecordedEvent, and the user-metadata
// layout. No server needed.

func newEventData(n int) eventstore.EventData {
	return eventstore.EventData{
		ID:            uuid.Must(uuid.NewV7()),
		Type:          "InvoiceIssued",
		SchemaVersion: 3,
		Data:          json.RawMessage(fmt.Sprintf(`{"n": %d,  "note": "spaces and <html> & \u00e9 kept"}`, n)),
		Metadata: eventstore.Metadata{TenantID: "acme", Actor: "user:<42>&co", CorrelationID: "corr-é", CausationID: "cause",
			CommandID: "cmd", IdempotencyKey: "idem", RequestID: "req"},
	}
}

// recorded is what the server hands back for an event the client sent.
func recorded(stream string, rev, pos uint64, ed *esdb.EventData) *esdb.RecordedEvent {
	return &esdb.RecordedEvent{EventID: ed.EventID, EventType: ed.EventType, ContentType: "application/json", StreamID: stream,
		EventNumber: rev, Position: esdb.Position{Commit: pos, Prepare: pos}, CreatedDate: time.Now(),
		Data: ed.Data, UserMetadata: ed.Metadata}
}

func TestEncodeDecodeEvent(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 30, 0, 123456000, time.UTC)
	prev := eventstore.ChainHash(nil, &eventstore.Envelope{StreamID: "invoice-1", Version: 1})
	e := newEventData(1)
	ed, hash := encodeEvent("invoice-1", 2, prev, &e, now)

	assert.Equal(t, e.ID, ed.EventID)
	assert.Equal(t, "InvoiceIssued", ed.EventType)
	assert.Equal(t, esdb.ContentTypeJson, ed.ContentType)
	assert.Equal(t, []byte(e.Data), ed.Data, "payload sent byte for byte")

	env, err := decodeEvent(recorded("invoice-1", 1, 8192, &ed))
	require.NoError(t, err)
	assert.Equal(t, e.ID, env.ID)
	assert.Equal(t, "invoice-1", env.StreamID)
	assert.Equal(t, uint64(2), env.Version, "revision 1 is version 2")
	assert.Equal(t, eventstore.Position(8192), env.Position)
	assert.Equal(t, "InvoiceIssued", env.Type)
	assert.Equal(t, 3, env.SchemaVersion)
	assert.Equal(t, []byte(e.Data), []byte(env.Data))
	want := e.Metadata
	want.RecordedAt = now
	assert.Equal(t, want, env.Metadata)
	assert.Equal(t, now, env.RecordedAt())
	assert.Equal(t, hash, env.Hash)

	// The hash is recomputable from what is read back: RawMetadata is the hashed bytes.
	assert.Equal(t, eventstore.ChainHash(prev, &env), env.Hash)
	raw, _ := json.Marshal(&want)
	assert.Equal(t, raw, []byte(env.RawMetadata))
	tampered := env
	tampered.RawMetadata = []byte(strings.Replace(string(env.RawMetadata), "acme", "acmf", 1))
	assert.NotEqual(t, env.Hash, eventstore.ChainHash(prev, &tampered))
}

func TestStoredMetadataLayout(t *testing.T) {
	e := newEventData(1)
	ed, hash := encodeEvent("s", 1, nil, &e, time.Unix(0, 0).UTC())
	var m map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(ed.Metadata, &m), "user metadata is one JSON object")
	assert.JSONEq(t, `"dotmac.event.v1"`, string(m["format"]))
	assert.JSONEq(t, `3`, string(m["schema_version"]))
	assert.JSONEq(t, strconv.Quote(fmt.Sprintf("%x", hash)), string(m["hash"]))
	assert.JSONEq(t, `"corr-é"`, string(m["$correlationId"]), "KurrentDB's own correlation key")
	assert.JSONEq(t, `"cause"`, string(m["$causationId"]))
	assert.Contains(t, string(ed.Metadata), `"metadata":{"tenant_id":"acme"`)

	// Without correlation and causation ids the KurrentDB keys are left out.
	e.Metadata = eventstore.Metadata{TenantID: "t"}
	ed, _ = encodeEvent("s", 1, nil, &e, time.Unix(0, 0).UTC())
	assert.NotContains(t, string(ed.Metadata), "$correlationId")
	assert.NotContains(t, string(ed.Metadata), "$causationId")
}

func TestDecodeStoredMetadataRefusesForeignMetadata(t *testing.T) {
	good := `{"format":"dotmac.event.v1","schema_version":1,"hash":"` + strings.Repeat("ab", 32) + `","metadata":{"recorded_at":"2026-01-01T00:00:00Z"}}`
	_, _, raw, err := decodeStoredMetadata([]byte(good))
	require.NoError(t, err)
	assert.JSONEq(t, `{"recorded_at":"2026-01-01T00:00:00Z"}`, string(raw))
	for _, bad := range []string{
		``,
		`not json`,
		`{"$correlationId":"x"}`,
		`{"format":"other","schema_version":1,"hash":"` + strings.Repeat("ab", 32) + `","metadata":{}}`,
		`{"format":"dotmac.event.v1","schema_version":1,"hash":"abcd","metadata":{}}`,
		`{"format":"dotmac.event.v1","schema_version":1,"hash":"` + strings.Repeat("zz", 32) + `","metadata":{}}`,
		`{"format":"dotmac.event.v1","schema_version":0,"hash":"` + strings.Repeat("ab", 32) + `","metadata":{}}`,
		`{"format":"dotmac.event.v1","schema_version":1,"hash":"` + strings.Repeat("ab", 32) + `"}`,
	} {
		_, _, _, err := decodeStoredMetadata([]byte(bad))
		assert.ErrorIs(t, err, ErrForeignEvent, bad)
	}
}

func TestDecodeEventErrorsNameTheEvent(t *testing.T) {
	e := newEventData(1)
	ed, _ := encodeEvent("s", 1, nil, &e, time.Now())
	rec := recorded("s", 0, 100, &ed)
	rec.Position = esdb.Position{Commit: 300, Prepare: 200}
	_, err := decodeEvent(rec)
	require.ErrorIs(t, err, errSplitPosition)
	assert.Contains(t, err.Error(), e.ID.String())
	assert.Contains(t, err.Error(), `"s"`)

	rec = recorded("s", 0, 100, &ed)
	rec.UserMetadata = []byte(`{"app":"someone else"}`)
	_, err = decodeEvent(rec)
	assert.ErrorIs(t, err, ErrForeignEvent)
}

func TestIsSystem(t *testing.T) {
	tests := []struct {
		stream, typ string
		system      bool
	}{
		{"invoice-1", "InvoiceIssued", false},
		{"$stats-127.0.0.1:2113", "$statsCollected", true},
		{"$projections-x-result", "Result", true},
		{"$$invoice-1", "$metadata", true},
		{"invoice-1", "$streamDeleted", true},
		{"invoice-1", "$>", true},
		{"in$voice", "Type$", false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.system, isSystem(&esdb.RecordedEvent{StreamID: tc.stream, EventType: tc.typ}), "%s/%s", tc.stream, tc.typ)
	}
}

func TestAppendSize(t *testing.T) {
	events := []esdb.EventData{{EventType: "Ab", Data: make([]byte, 10), Metadata: make([]byte, 5)}, {EventType: "C", Data: []byte("{}")}}
	assert.Equal(t, 10+5+4+2+2, appendSize(events))
}
