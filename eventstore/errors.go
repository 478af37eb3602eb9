package eventstore

import (
	"errors"
	"fmt"
)

// Sentinel errors. Backends wrap them (or return the richer types below, which match them
// with errors.Is) so callers never need to know which backend they talk to.
var (
	// ErrWrongExpectedVersion: the stream was not at the version the append expected.
	ErrWrongExpectedVersion = errors.New("wrong expected version")
	// ErrStreamNotFound: the stream has no events.
	ErrStreamNotFound = errors.New("stream not found")
	// ErrUnavailable: the backend cannot be reached or is shutting down. Retryable.
	ErrUnavailable = errors.New("event store unavailable")
	// ErrInvalidInput: the call's arguments break a documented rule (see *InvalidInputError).
	ErrInvalidInput = errors.New("invalid input")
	// ErrDuplicateEventID: some, but not all, of an append's event ids are already stored, or
	// they are stored in another stream or order. The append is not a clean retry.
	ErrDuplicateEventID = errors.New("event id already stored")
	// ErrSubscriptionClosed: Next was called after Close.
	ErrSubscriptionClosed = errors.New("subscription closed")
	// ErrUnknownEventType: no codec is registered for a stored event's type or version.
	ErrUnknownEventType = errors.New("unknown event type")
)

// WrongExpectedVersionError carries what a caller needs to decide whether to retry.
type WrongExpectedVersionError struct {
	Stream   string
	Expected ExpectedVersion
	// Actual is the stream's current version (0: the stream has no events).
	Actual uint64
}

func (e *WrongExpectedVersionError) Error() string {
	return fmt.Sprintf("append to %q: expected %s, stream is at version %d", e.Stream, e.Expected, e.Actual)
}

// Is makes errors.Is(err, ErrWrongExpectedVersion) true.
func (e *WrongExpectedVersionError) Is(target error) bool { return target == ErrWrongExpectedVersion }

// InvalidInputError names the argument that broke a rule.
type InvalidInputError struct {
	Field  string
	Reason string
}

func (e *InvalidInputError) Error() string {
	return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *InvalidInputError) Is(target error) bool { return target == ErrInvalidInput }

// UnavailableError wraps the backend's own error; it matches ErrUnavailable.
type UnavailableError struct {
	Op  string
	Err error
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("%s: event store unavailable: %v", e.Op, e.Err)
}

// Unwrap exposes the backend error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrUnavailable) true.
func (e *UnavailableError) Is(target error) bool { return target == ErrUnavailable }

// DecodeError says which stored event could not be decoded, and why.
type DecodeError struct {
	Type          string
	SchemaVersion int
	StreamID      string
	Version       uint64
	Position      Position
	Err           error
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("decode %s v%d at position %d (stream %q version %d): %v",
		e.Type, e.SchemaVersion, e.Position, e.StreamID, e.Version, e.Err)
}

// Unwrap exposes the cause (ErrUnknownEventType, a JSON error, an upcaster's error).
func (e *DecodeError) Unwrap() error { return e.Err }
