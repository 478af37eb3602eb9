package domain

import (
	"errors"
	"fmt"
	"strings"
)

// FoldError reports the event a fold stopped at. It always wraps ErrInvariant: an event that
// cannot apply means the stored history and this code disagree.
type FoldError struct {
	Index     int    // position of the event in the folded slice, from 0
	EventType string // its type name
	Err       error
}

func (e *FoldError) Error() string {
	return fmt.Sprintf("invariant: event %d (%s): %s", e.Index, e.EventType, strings.TrimPrefix(e.Err.Error(), "invariant: "))
}

// Unwrap returns ErrInvariant and the cause.
func (e *FoldError) Unwrap() []error { return []error{ErrInvariant, e.Err} }

// fold applies events to zero in order with apply. It stops at the first event that cannot
// apply and returns the state before it with a *FoldError.
func fold[S any](zero S, events []Event, apply func(S, Event) (S, error)) (S, error) {
	s := zero
	for i, e := range events {
		next, err := apply(s, e)
		if err != nil {
			return s, &FoldError{Index: i, EventType: e.EventType(), Err: err}
		}
		s = next
	}
	return s, nil
}

// asInvariant makes any error met while applying e an ErrInvariant error.
func asInvariant(e Event, err error) error {
	if errors.Is(err, ErrInvariant) {
		return err
	}
	return invariantf("%s: %w", e.EventType(), err)
}
