package eventstore

import (
	"encoding/json"
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"
)

// ValidateStreamID checks a stream id against the rules every backend enforces: 1 to
// MaxStreamIDBytes bytes of valid UTF-8, no control characters, not starting with '$'
// (reserved for system streams).
func ValidateStreamID(stream string) error {
	switch {
	case stream == "":
		return &InvalidInputError{Field: "stream id", Reason: "empty"}
	case len(stream) > MaxStreamIDBytes:
		return &InvalidInputError{Field: "stream id", Reason: fmt.Sprintf("%d bytes, the limit is %d", len(stream), MaxStreamIDBytes)}
	case !utf8.ValidString(stream):
		return &InvalidInputError{Field: "stream id", Reason: "not valid UTF-8"}
	case stream[0] == '$':
		return &InvalidInputError{Field: "stream id", Reason: "names starting with '$' are reserved for system streams"}
	}
	for _, r := range stream {
		if unicode.IsControl(r) || unicode.IsSpace(r) {
			return &InvalidInputError{Field: "stream id", Reason: fmt.Sprintf("contains %q", r)}
		}
	}
	return nil
}

// ValidateAppend checks an Append call's arguments and returns the first rule broken.
func ValidateAppend(stream string, events []EventData) error {
	if err := ValidateStreamID(stream); err != nil {
		return err
	}
	if len(events) == 0 {
		return &InvalidInputError{Field: "events", Reason: "an append needs at least one event"}
	}
	if len(events) > MaxEventsPerAppend {
		return &InvalidInputError{Field: "events", Reason: fmt.Sprintf("%d events, the limit per append is %d", len(events), MaxEventsPerAppend)}
	}
	seen := make(map[uuid.UUID]struct{}, len(events))
	for i := range events {
		if err := validateEvent(i, &events[i]); err != nil {
			return err
		}
		if _, dup := seen[events[i].ID]; dup {
			return &InvalidInputError{Field: fmt.Sprintf("events[%d].id", i), Reason: "appears twice in one append"}
		}
		seen[events[i].ID] = struct{}{}
	}
	return nil
}

func validateEvent(i int, e *EventData) error {
	field := func(name string) string { return fmt.Sprintf("events[%d].%s", i, name) }
	switch {
	case e.ID == uuid.Nil:
		return &InvalidInputError{Field: field("id"), Reason: "missing (the nil UUID)"}
	case e.Type == "":
		return &InvalidInputError{Field: field("type"), Reason: "empty"}
	case len(e.Type) > MaxTypeNameBytes:
		return &InvalidInputError{Field: field("type"), Reason: fmt.Sprintf("%d bytes, the limit is %d", len(e.Type), MaxTypeNameBytes)}
	case !utf8.ValidString(e.Type):
		return &InvalidInputError{Field: field("type"), Reason: "not valid UTF-8"}
	case e.Type[0] == '$':
		return &InvalidInputError{Field: field("type"), Reason: "names starting with '$' are reserved"}
	case e.SchemaVersion < 1 || e.SchemaVersion > 1_000_000:
		return &InvalidInputError{Field: field("schema_version"), Reason: fmt.Sprintf("%d, must be between 1 and 1000000", e.SchemaVersion)}
	case len(e.Data) > MaxEventDataBytes:
		return &InvalidInputError{Field: field("data"), Reason: fmt.Sprintf("%d bytes, the limit is %d", len(e.Data), MaxEventDataBytes)}
	case !utf8.Valid(e.Data):
		return &InvalidInputError{Field: field("data"), Reason: "not valid UTF-8"}
	case !isJSONObject(e.Data):
		return &InvalidInputError{Field: field("data"), Reason: "not a JSON object"}
	case e.Key != nil:
		return ValidateAppendKey(field("key"), e.Key)
	}
	return nil
}

func isJSONObject(data []byte) bool {
	if !json.Valid(data) {
		return false
	}
	for _, c := range data {
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case '{':
			return true
		default:
			return false
		}
	}
	return false
}
