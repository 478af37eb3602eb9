package eventstore

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits of an AppendKey.
const (
	// MaxKeyScopeBytes is the longest scope of an AppendKey.
	MaxKeyScopeBytes = 200
	// MaxKeyBytes is the longest key of an AppendKey.
	MaxKeyBytes = 255
)

// ErrKeyTaken: an append carried an idempotency key another command recorded first (see
// KeyRecorder). Nothing of the append is stored.
var ErrKeyTaken = errors.New("idempotency key recorded by another command")

// AppendKey is the idempotency key of the command whose events start at the event carrying
// it (EventData.Key): a client's key, within a scope (a tenant), for the request whose hash is
// Hash, run as the command CommandID. A store that records keys (KeyRecorder) stores it in
// the append's own transaction; the first command to record a key holds it. Every append of
// that command may carry it again (a command appending to several streams, each append
// carrying its key): a key recorded by the same CommandID is no conflict.
type AppendKey struct {
	Scope     string
	Key       string
	Hash      [32]byte
	CommandID uuid.UUID
}

// StoredKey is a key as a store recorded it: the command that holds it, and where its first
// event carrying it was appended, or the answer recorded with it when the command appended
// nothing (KeyRecorder.RecordKey).
type StoredKey struct {
	AppendKey
	// Stream, Version and Position locate the first event recorded with the key (Stream is
	// empty for a key recorded alone).
	Stream   string
	Version  uint64
	Position Position
	// Answer is what RecordKey recorded with the key (a command that appended nothing, or
	// whose answer its events do not tell); nil if nothing.
	Answer     []byte
	RecordedAt time.Time
}

// KeyTakenError is ErrKeyTaken naming the keys of an append that other commands hold, as
// they were recorded.
type KeyTakenError struct {
	Stream string
	Taken  []StoredKey
}

func (e *KeyTakenError) Error() string {
	if len(e.Taken) == 1 {
		return fmt.Sprintf("append to %q: %v: key %q of scope %q, by command %s", e.Stream, ErrKeyTaken,
			e.Taken[0].Key, e.Taken[0].Scope, e.Taken[0].CommandID)
	}
	return fmt.Sprintf("append to %q: %v: %d keys", e.Stream, ErrKeyTaken, len(e.Taken))
}

// Is makes errors.Is(err, ErrKeyTaken) true.
func (e *KeyTakenError) Is(target error) bool { return target == ErrKeyTaken }

// Holder returns the stored key of scope and key, if this error names it.
func (e *KeyTakenError) Holder(scope, key string) (StoredKey, bool) {
	for _, k := range e.Taken {
		if k.Scope == scope && k.Key == key {
			return k, true
		}
	}
	return StoredKey{}, false
}

// KeyRecorder is implemented by stores that record idempotency keys with the events they
// append, in the same transaction (PostgreSQL's). An append whose events carry keys
// (EventData.Key) either stores its events and every key not yet recorded, or, when a key
// is recorded already by another command (by another append, or earlier in the same group of
// appends), stores nothing and returns *KeyTakenError. So a command and its key are durable
// together: there is nothing to write after the answer, and a retry of the command under the
// same key finds what the first attempt recorded.
type KeyRecorder interface {
	// RecordsKeys reports whether appends record keys (a wrapper may hold a store that does not).
	RecordsKeys() bool
	// LookupKey returns the key recorded for scope and key, if any.
	LookupKey(ctx context.Context, scope, key string) (StoredKey, bool, error)
	// RecordKey records a key alone, with answer, for a command that appended nothing; or, when
	// k's command recorded the key with its events and no answer yet, adds answer to it (an
	// answer its events do not tell). It returns the key as stored and whether this call
	// recorded it or its answer (false: it was recorded before, by another command, or by this
	// one with an answer).
	RecordKey(ctx context.Context, k AppendKey, answer []byte) (StoredKey, bool, error)
	// PurgeKeys deletes up to limit keys recorded before t, oldest first, and returns how many.
	PurgeKeys(ctx context.Context, before time.Time, limit int) (int64, error)
}

// ValidateAppendKey checks an AppendKey (field names the argument, for the error).
func ValidateAppendKey(field string, k *AppendKey) error {
	switch {
	case k.Scope == "" || len(k.Scope) > MaxKeyScopeBytes || !utf8.ValidString(k.Scope):
		return &InvalidInputError{Field: field + ".scope", Reason: fmt.Sprintf("must be 1 to %d bytes of UTF-8", MaxKeyScopeBytes)}
	case k.Key == "" || len(k.Key) > MaxKeyBytes || !utf8.ValidString(k.Key):
		return &InvalidInputError{Field: field + ".key", Reason: fmt.Sprintf("must be 1 to %d bytes of UTF-8", MaxKeyBytes)}
	case k.CommandID == uuid.Nil:
		return &InvalidInputError{Field: field + ".command id", Reason: "missing (the nil UUID)"}
	}
	return nil
}

// RefuseKeys is the check of a store that does not record keys: an append whose events carry
// one is refused, so that the key is never silently dropped.
func RefuseKeys(events []EventData) error {
	for i := range events {
		if events[i].Key != nil {
			return &InvalidInputError{Field: fmt.Sprintf("events[%d].key", i), Reason: "this event store does not record idempotency keys with appends"}
		}
	}
	return nil
}
