package commands

import (
	"errors"
	"fmt"

	"github.com/dotmac/ledger/domain"
)

// ErrConflict: the stream was not at the version the command had to be decided on. With
// Meta.ExpectedVersion set that is the caller's stale view; without it, the stream kept
// changing for Config.MaxAttempts decisions in a row.
var ErrConflict = errors.New("conflict")

// ConflictError is the ErrConflict a caller can act on: re-read the stream (its version is
// Actual) and decide whether to send the command again.
type ConflictError struct {
	Stream   string
	Expected uint64 // the version the command was decided on
	Actual   uint64 // the stream's version when the append was refused (0 if unknown)
	Attempts int
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("stream %s is at version %d, not %d (after %d attempts)", e.Stream, e.Actual, e.Expected, e.Attempts)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// ErrUndecodable: a stored event of the stream the command loads cannot be decoded (a payload
// this binary cannot read). The command cannot be decided until an operator fixes the cause
// (an upcaster, new code); it matches domain.ErrInvariant too.
var ErrUndecodable = errors.New("a stored event cannot be decoded")

// UndecodableError names the event that could not be decoded, for the log; its text may hold
// the event's data, so an API answers with an error id instead.
type UndecodableError struct {
	Stream  string
	Version uint64
	Err     error
}

func (e *UndecodableError) Error() string {
	return fmt.Sprintf("invariant: stream %s version %d cannot be decoded: %v", e.Stream, e.Version, e.Err)
}

// Unwrap returns ErrUndecodable, domain.ErrInvariant and the codec's error.
func (e *UndecodableError) Unwrap() []error {
	return []error{ErrUndecodable, domain.ErrInvariant, e.Err}
}
