package commands

import (
	"errors"
	"fmt"
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
