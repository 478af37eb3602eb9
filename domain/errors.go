package domain

import (
	"errors"
	"fmt"
)

// Error categories. Every error a Decide function returns wraps exactly one of them, so the
// command API maps domain errors to statuses with errors.Is in one table.
var (
	// ErrInvalid: a value or a command is malformed (an amount with too many decimals, an
	// unknown currency, an empty name). The same command will never succeed.
	ErrInvalid = errors.New("invalid")
	// ErrNotFound: the command names an entity the aggregate does not hold.
	ErrNotFound = errors.New("not found")
	// ErrRejected: the command is well formed but the current state forbids it (a transition
	// that is not allowed, a duplicate id, an amount above what is open).
	ErrRejected = errors.New("rejected")
	// ErrInvariant: an event cannot apply to the state it is folded onto. The stored history
	// and this code disagree; this is a programmer error, never the caller's.
	ErrInvariant = errors.New("invariant")
)

// maxErrorValueBytes bounds how much of an offending input an error message quotes.
const maxErrorValueBytes = 64

// invariantf returns an error wrapping ErrInvariant whose message starts with "invariant: ".
func invariantf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvariant}, args...)...)
}

// InvalidValueError reports a malformed value: which field, the value (quoted, shortened) and
// why it was refused.
type InvalidValueError struct {
	Field  string
	Value  string
	Reason string
}

func (e *InvalidValueError) Error() string {
	v := e.Value
	if len(v) > maxErrorValueBytes {
		v = v[:maxErrorValueBytes] + "..."
	}
	return fmt.Sprintf("invalid %s %q: %s", e.Field, v, e.Reason)
}

func (e *InvalidValueError) Unwrap() error { return ErrInvalid }

func invalid(field, value, reason string) error {
	return &InvalidValueError{Field: field, Value: value, Reason: reason}
}

// CurrencyMismatchError reports an amount in another currency than the one required: money
// arithmetic across currencies, or a payment, line or credit note in a currency other than
// the customer's billing currency.
type CurrencyMismatchError struct {
	Want Currency
	Got  Currency
}

func (e *CurrencyMismatchError) Error() string {
	return fmt.Sprintf("currency mismatch: want %s, got %s", e.Want, e.Got)
}

func (e *CurrencyMismatchError) Unwrap() error { return ErrRejected }

// NotFoundError reports a command naming an entity that does not exist (yet).
type NotFoundError struct {
	Entity string
	ID     string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %s not found", e.Entity, e.ID) }

func (e *NotFoundError) Unwrap() error { return ErrNotFound }

// AlreadyExistsError reports a command creating an entity whose id is already taken.
type AlreadyExistsError struct {
	Entity string
	ID     string
}

func (e *AlreadyExistsError) Error() string {
	return fmt.Sprintf("%s %s already exists", e.Entity, e.ID)
}

func (e *AlreadyExistsError) Unwrap() error { return ErrRejected }

// InvalidTransitionError reports a lifecycle move the entity's state machine does not allow,
// for example an invoice going from paid to void.
type InvalidTransitionError struct {
	Entity string
	ID     string
	From   string
	To     string
}

func (e *InvalidTransitionError) Error() string {
	return fmt.Sprintf("%s %s cannot go from %s to %s", e.Entity, e.ID, e.From, e.To)
}

func (e *InvalidTransitionError) Unwrap() error { return ErrRejected }

// DateNotAllowedError reports a date a rule forbids, such as a plan change effective outside
// the current month or a termination before the service started.
type DateNotAllowedError struct {
	Entity string
	ID     string
	Field  string
	Date   Date
	Reason string
}

func (e *DateNotAllowedError) Error() string {
	return fmt.Sprintf("%s %s: %s %s %s", e.Entity, e.ID, e.Field, e.Date, e.Reason)
}

func (e *DateNotAllowedError) Unwrap() error { return ErrRejected }
