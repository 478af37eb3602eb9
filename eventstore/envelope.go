package eventstore

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// EventData is an event on its way into the store.
type EventData struct {
	// ID identifies the event everywhere; appending an id again is idempotent. Required.
	ID uuid.UUID
	// Type is the registered event type name, for example "InvoiceIssued".
	Type string
	// SchemaVersion is the version of Data's shape (1 or more).
	SchemaVersion int
	// Data is the JSON payload (an object), stored byte for byte.
	Data json.RawMessage
	// Metadata says who caused the event and why. RecordedAt is set by the store.
	Metadata Metadata
	// Key, when set, is the idempotency key of the command whose events start here: a store
	// that records keys (KeyRecorder) stores it with the events; one that does not refuses the
	// append (*InvalidInputError), so a key is never silently dropped.
	Key *AppendKey
}

// Metadata travels with every stored event. Field names are part of the stored format.
type Metadata struct {
	TenantID       string    `json:"tenant_id,omitempty"`
	Actor          string    `json:"actor,omitempty"`
	CorrelationID  string    `json:"correlation_id,omitempty"`
	CausationID    string    `json:"causation_id,omitempty"`
	CommandID      string    `json:"command_id,omitempty"`
	IdempotencyKey string    `json:"idempotency_key,omitempty"`
	RequestID      string    `json:"request_id,omitempty"`
	RecordedAt     time.Time `json:"recorded_at"`
}

// Envelope is a stored event as every reader sees it.
type Envelope struct {
	ID            uuid.UUID
	StreamID      string
	Version       uint64
	Position      Position
	Type          string
	SchemaVersion int
	Data          json.RawMessage
	// RawMetadata holds the metadata exactly as stored; it is what the hash covers.
	RawMetadata json.RawMessage
	Metadata    Metadata
	// Hash is SHA-256(previous event's hash in the stream || CanonicalBytes(this event)).
	Hash []byte
}

// RecordedAt is when the store accepted the event.
func (e *Envelope) RecordedAt() time.Time { return e.Metadata.RecordedAt }

// AppendResult describes a successful append.
type AppendResult struct {
	StreamID string
	// FirstVersion and LastVersion are the versions of the first and last appended events;
	// LastVersion is the stream's version after the append.
	FirstVersion uint64
	LastVersion  uint64
	// FirstPosition and LastPosition are the global positions of those events.
	FirstPosition Position
	LastPosition  Position
	// Duplicate is true when every event was already stored and nothing was written.
	Duplicate bool
}
