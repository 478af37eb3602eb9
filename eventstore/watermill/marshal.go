package watermill

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/dotmac/ledger/eventstore"
)

// Topics.
const (
	// TopicAll subscribes to the whole global feed. Any other topic is a stream id: the
	// subscriber delivers that stream's events, and the publisher appends to it.
	TopicAll = "$all"
)

// OpaqueEventType is the event type under which the publisher stores a message that is not a
// domain event (no event_type metadata): its payload (any bytes) and its metadata (any keys)
// are wrapped in a JSON object, and the subscriber unwraps them again.
const OpaqueEventType = "WatermillMessage"

// Metadata keys. The publisher reads MetaEventType and MetaSchemaVersion, and maps the keys
// named like eventstore.Metadata's JSON fields (tenant_id, actor, correlation_id,
// causation_id, command_id, idempotency_key, request_id) onto the event's metadata. The
// subscriber sets all of them, plus the store-assigned ones below, on every message.
const (
	MetaEventType     = "event_type"
	MetaSchemaVersion = "schema_version"
	MetaStreamID      = "stream_id"
	MetaStreamVersion = "stream_version"
	MetaPosition      = "position"
	MetaRecordedAt    = "recorded_at"
	// Batch messages carry these instead of the per-event keys.
	MetaBatchFirst  = "batch_first_position"
	MetaBatchLast   = "batch_last_position"
	MetaBatchEvents = "batch_events"
)

// storeAssigned are keys a received message carries but a publisher cannot choose: they are
// ignored when a received message is published again.
var storeAssigned = map[string]bool{MetaStreamID: true, MetaStreamVersion: true, MetaPosition: true, MetaRecordedAt: true}

// idNamespace derives event ids from topics and message UUIDs (see EventFromMessage).
var idNamespace = uuid.MustParse("6f1c61e4-2b0c-4d8f-9a55-1d1c2f0e7a11")

// opaque is the stored form of a message that is not a domain event.
type opaque struct {
	UUID     string            `json:"uuid"`
	Payload  []byte            `json:"payload"` // base64 in JSON
	Metadata map[string]string `json:"metadata,omitempty"`
}

// ErrNotEncodable: a message cannot become an event (a domain event payload that is not a
// JSON object, metadata with no place in an event, a bad schema version).
var ErrNotEncodable = errors.New("message cannot be stored as an event")

// EventFromMessage turns a message published to topic into the event the publisher appends.
//
// A domain event (event_type metadata set) keeps its message UUID as the event id (a UUID
// that does not parse is replaced by a name-based UUID derived from topic and UUID). An opaque
// message's event id is a name-based UUID of topic and UUID, and the UUID itself is stored in
// the wrapper: Watermill lets the same message (UUID) go to several topics, while an event id
// lives in one stream. Either way publishing the same message to the same topic again names
// the same event, so it is stored once.
func EventFromMessage(topic string, msg *message.Message) (eventstore.EventData, error) {
	md := metadataFrom(msg.Metadata)
	typ := msg.Metadata.Get(MetaEventType)
	if typ == "" || typ == OpaqueEventType {
		data, err := json.Marshal(opaque{UUID: msg.UUID, Payload: msg.Payload, Metadata: msg.Metadata})
		if err != nil {
			return eventstore.EventData{}, fmt.Errorf("%w: %w", ErrNotEncodable, err)
		}
		return eventstore.EventData{ID: derivedID(topic, msg.UUID), Type: OpaqueEventType, SchemaVersion: 1, Data: data, Metadata: md}, nil
	}
	id, err := uuid.Parse(msg.UUID)
	if err != nil || id == uuid.Nil {
		id = derivedID(topic, msg.UUID)
	}
	sv, err := schemaVersion(msg.Metadata.Get(MetaSchemaVersion))
	if err != nil {
		return eventstore.EventData{}, err
	}
	if err := checkDomainMetadata(msg.Metadata); err != nil {
		return eventstore.EventData{}, err
	}
	if !isJSONObject(msg.Payload) {
		return eventstore.EventData{}, fmt.Errorf("%w: message %s of type %s: the payload is not a JSON object", ErrNotEncodable, msg.UUID, typ)
	}
	return eventstore.EventData{ID: id, Type: typ, SchemaVersion: sv, Data: json.RawMessage(msg.Payload), Metadata: md}, nil
}

func derivedID(topic, msgUUID string) uuid.UUID {
	return uuid.NewSHA1(idNamespace, []byte(topic+"\x00"+msgUUID))
}

func schemaVersion(s string) (int, error) {
	if s == "" {
		return 1, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 1 {
		return 0, fmt.Errorf("%w: schema_version %q is not a positive integer", ErrNotEncodable, s)
	}
	return v, nil
}

// checkDomainMetadata refuses keys a domain event has nowhere to keep, rather than dropping
// them silently.
func checkDomainMetadata(m message.Metadata) error {
	for k := range m {
		if k == MetaEventType || k == MetaSchemaVersion || storeAssigned[k] || isMetadataField(k) {
			continue
		}
		return fmt.Errorf("%w: metadata key %q has no place in a domain event (only %s and the event metadata fields)",
			ErrNotEncodable, k, MetaEventType)
	}
	return nil
}

func isMetadataField(k string) bool {
	switch k {
	case "tenant_id", "actor", "correlation_id", "causation_id", "command_id", "idempotency_key", "request_id":
		return true
	}
	return false
}

func metadataFrom(m message.Metadata) eventstore.Metadata {
	return eventstore.Metadata{
		TenantID: m.Get("tenant_id"), Actor: m.Get("actor"), CorrelationID: m.Get("correlation_id"),
		CausationID: m.Get("causation_id"), CommandID: m.Get("command_id"),
		IdempotencyKey: m.Get("idempotency_key"), RequestID: m.Get("request_id"),
	}
}

func isJSONObject(b []byte) bool {
	t := bytes.TrimLeft(b, " \t\r\n")
	return len(t) > 0 && t[0] == '{' && json.Valid(b)
}

// MessageFromEnvelope turns a stored event into a message. An opaque event gives back the
// published UUID, payload and metadata; a domain event gives its event id as the UUID and its
// JSON data as the payload. Either way the store-assigned keys are set.
func MessageFromEnvelope(env *eventstore.Envelope) (*message.Message, error) {
	var msg *message.Message
	if env.Type == OpaqueEventType {
		var o opaque
		if err := json.Unmarshal(env.Data, &o); err != nil {
			return nil, fmt.Errorf("position %d: decode %s: %w", env.Position, OpaqueEventType, err)
		}
		msg = message.NewMessage(o.UUID, o.Payload)
		for k, v := range o.Metadata {
			msg.Metadata.Set(k, v)
		}
	} else {
		msg = message.NewMessage(env.ID.String(), message.Payload(env.Data))
		msg.Metadata.Set(MetaEventType, env.Type)
		msg.Metadata.Set(MetaSchemaVersion, strconv.Itoa(env.SchemaVersion))
		setMetadataFields(msg.Metadata, &env.Metadata)
	}
	msg.Metadata.Set(MetaStreamID, env.StreamID)
	msg.Metadata.Set(MetaStreamVersion, strconv.FormatUint(env.Version, 10))
	msg.Metadata.Set(MetaPosition, strconv.FormatUint(uint64(env.Position), 10))
	msg.Metadata.Set(MetaRecordedAt, env.RecordedAt().Format(time.RFC3339Nano))
	return msg, nil
}

func setMetadataFields(m message.Metadata, md *eventstore.Metadata) {
	for k, v := range map[string]string{"tenant_id": md.TenantID, "actor": md.Actor, "correlation_id": md.CorrelationID,
		"causation_id": md.CausationID, "command_id": md.CommandID, "idempotency_key": md.IdempotencyKey, "request_id": md.RequestID} {
		if v != "" {
			m.Set(k, v)
		}
	}
}

// BatchMessage wraps envelopes (in global order, at least one) in one message. Its UUID names
// the position range, so a redelivered batch has the same UUID.
func BatchMessage(envs []eventstore.Envelope) *message.Message {
	return batchMessage(envs, EncodeBatch(envs))
}

func batchMessage(envs []eventstore.Envelope, payload message.Payload) *message.Message {
	first, last := envs[0].Position, envs[len(envs)-1].Position
	msg := message.NewMessage(fmt.Sprintf("batch-%d-%d", first, last), payload)
	msg.Metadata.Set(MetaBatchFirst, strconv.FormatUint(uint64(first), 10))
	msg.Metadata.Set(MetaBatchLast, strconv.FormatUint(uint64(last), 10))
	msg.Metadata.Set(MetaBatchEvents, strconv.Itoa(len(envs)))
	return msg
}

// IsBatch reports whether msg is a batch message.
func IsBatch(msg *message.Message) bool { return msg.Metadata.Get(MetaBatchEvents) != "" }
