package kurrentdb

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dotmac/ledger/eventstore"
)

// eventFormat marks the user metadata of every event this backend writes. A new layout gets a
// new value, and decoding keeps accepting the old one.
const eventFormat = "dotmac.event.v1"

// ErrForeignEvent: a non-system event in the store was not written by this backend (its user
// metadata is not ours), so it has no schema version, metadata or hash to hand out. The
// KurrentDB database behind a Store must be dedicated to it.
var ErrForeignEvent = errors.New("event not written by the DotMac event store")

// storedMetadata is the layout of a KurrentDB event's user metadata ("custom metadata"):
//
//	{"format":"dotmac.event.v1","schema_version":1,"hash":"<64 hex digits>",
//	 "metadata":{...eventstore.Metadata, exactly the bytes hashed...},
//	 "$correlationId":"...","$causationId":"..."}
//
// The event type is KurrentDB's event type and the payload its data (content type JSON), both
// stored byte for byte. $correlationId and $causationId are copies of the hashed fields under
// the names KurrentDB's own tools (the $by_correlation_id projection, the UI) look for.
type storedMetadata struct {
	Format        string          `json:"format"`
	SchemaVersion int             `json:"schema_version"`
	Hash          string          `json:"hash"`
	Metadata      json.RawMessage `json:"metadata"`
	CorrelationID string          `json:"$correlationId,omitempty"`
	CausationID   string          `json:"$causationId,omitempty"`
}

// encodeEvent turns e, appended as version of stream after an event whose hash is prev, into
// the client's EventData, and returns the event's hash. RecordedAt is set to now before the
// metadata is serialized and hashed; the serialized bytes are stored verbatim.
func encodeEvent(stream string, version uint64, prev []byte, e *eventstore.EventData, now time.Time) (esdb.EventData, []byte) {
	md := e.Metadata
	md.RecordedAt = now
	raw, _ := json.Marshal(&md) // a struct of strings and a time: cannot fail
	env := eventstore.Envelope{ID: e.ID, StreamID: stream, Version: version, Type: e.Type,
		SchemaVersion: e.SchemaVersion, Data: e.Data, RawMetadata: raw}
	hash := eventstore.ChainHash(prev, &env)
	return esdb.EventData{
		EventID:     e.ID,
		EventType:   e.Type,
		ContentType: esdb.ContentTypeJson,
		Data:        e.Data,
		Metadata:    marshalStoredMetadata(e.SchemaVersion, hash, raw, &md),
	}, hash
}

// marshalStoredMetadata writes storedMetadata by hand: encoding/json would re-compact (and
// HTML-escape) the raw metadata, and the hash covers those exact bytes.
func marshalStoredMetadata(schemaVersion int, hash, raw []byte, md *eventstore.Metadata) []byte {
	b := make([]byte, 0, len(raw)+160)
	b = append(b, `{"format":"`+eventFormat+`","schema_version":`...)
	b = strconv.AppendInt(b, int64(schemaVersion), 10)
	b = append(b, `,"hash":"`...)
	b = hex.AppendEncode(b, hash)
	b = append(b, `","metadata":`...)
	b = append(b, raw...)
	b = appendStringField(b, "$correlationId", md.CorrelationID)
	b = appendStringField(b, "$causationId", md.CausationID)
	return append(b, '}')
}

func appendStringField(b []byte, name, value string) []byte {
	if value == "" {
		return b
	}
	quoted, _ := json.Marshal(value) // a string: cannot fail
	b = append(b, `,"`+name+`":`...)
	return append(b, quoted...)
}

// decodeStoredMetadata parses user metadata written by marshalStoredMetadata. The returned
// raw metadata is the exact byte slice that was hashed.
func decodeStoredMetadata(b []byte) (schemaVersion int, hash []byte, raw json.RawMessage, err error) {
	var sm storedMetadata
	if len(b) == 0 || b[0] != '{' {
		return 0, nil, nil, ErrForeignEvent
	}
	if err := json.Unmarshal(b, &sm); err != nil {
		return 0, nil, nil, fmt.Errorf("%w: user metadata: %w", ErrForeignEvent, err)
	}
	if sm.Format != eventFormat {
		return 0, nil, nil, fmt.Errorf("%w: user metadata format %q", ErrForeignEvent, sm.Format)
	}
	hash, err = hex.DecodeString(sm.Hash)
	if err != nil || len(hash) != eventstore.HashSize {
		return 0, nil, nil, fmt.Errorf("%w: hash %q is not %d hex-encoded bytes", ErrForeignEvent, sm.Hash, eventstore.HashSize)
	}
	if len(sm.Metadata) == 0 || sm.SchemaVersion < 1 {
		return 0, nil, nil, fmt.Errorf("%w: metadata or schema version missing", ErrForeignEvent)
	}
	return sm.SchemaVersion, hash, sm.Metadata, nil
}

// decodeEvent turns a recorded KurrentDB event into an envelope.
func decodeEvent(rec *esdb.RecordedEvent) (eventstore.Envelope, error) {
	fail := func(err error) (eventstore.Envelope, error) {
		return eventstore.Envelope{}, fmt.Errorf("event %s in %q at revision %d: %w", rec.EventID, rec.StreamID, rec.EventNumber, err)
	}
	pos, err := toPosition(rec.Position)
	if err != nil {
		return fail(err)
	}
	schemaVersion, hash, raw, err := decodeStoredMetadata(rec.UserMetadata)
	if err != nil {
		return fail(err)
	}
	md, err := eventstore.DecodeMetadata(raw)
	if err != nil {
		return fail(err)
	}
	return eventstore.Envelope{
		ID:            rec.EventID,
		StreamID:      rec.StreamID,
		Version:       versionOf(rec.EventNumber),
		Position:      pos,
		Type:          rec.EventType,
		SchemaVersion: schemaVersion,
		Data:          rec.Data,
		RawMetadata:   raw,
		Metadata:      md,
		Hash:          hash,
	}, nil
}

// isSystem reports whether rec is KurrentDB's own: in a system stream ($stats-..., $$metadata,
// $ce-..., $projections-...) or of a system type ($>, $metadata, $streamDeleted, ...). Those
// are left out of $all reads, subscriptions and Head. Stream ids and type names starting with
// '$' are refused on append (eventstore.ValidateAppend), so none of ours is left out.
func isSystem(rec *esdb.RecordedEvent) bool {
	return strings.HasPrefix(rec.StreamID, "$") || strings.HasPrefix(rec.EventType, "$")
}

// appendSize estimates the size KurrentDB charges an append against its --max-append-size:
// data, metadata and the type name (twice: the server counts UTF-16 code units).
func appendSize(events []esdb.EventData) int {
	n := 0
	for i := range events {
		n += len(events[i].Data) + len(events[i].Metadata) + 2*len(events[i].EventType)
	}
	return n
}
