package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// Idempotency-key errors.
var (
	// ErrKeyReused: the key was used before with another request (method, path or body).
	ErrKeyReused = errors.New("idempotency key reused with another request")
	// ErrKeyInProgress: a request with the key is still running.
	ErrKeyInProgress = errors.New("a request with this idempotency key is in progress")
)

// KeyReusedError is ErrKeyReused naming the key.
type KeyReusedError struct{ Key string }

func (e *KeyReusedError) Error() string {
	return fmt.Sprintf("idempotency key %q: %v", e.Key, ErrKeyReused)
}

// Unwrap returns ErrKeyReused.
func (e *KeyReusedError) Unwrap() error { return ErrKeyReused }

// StoredResponse is a completed request's response, replayed to retries with the same key.
type StoredResponse struct {
	Status  int
	Headers map[string]string
	Body    []byte
}

// Claim is the outcome of claiming an idempotency key.
type Claim struct {
	// CommandID is the command id to run the command with (see Meta.CommandID).
	CommandID uuid.UUID
	// Recovering is set when an earlier claim of the key lapsed without an answer: the command
	// may have been appended already (see Meta.Recovering).
	Recovering bool
	// Replay, when set, is the first response: the command must not run again.
	Replay *StoredResponse
}

// IdempotencyKeys stores the Idempotency-Key of every command request, per tenant, for at
// least 24 hours. Claim must let exactly one request with a key run at a time: the others
// wait a little and then get ErrKeyInProgress, or get the stored response once there is one.
// Implementations must be safe for concurrent use (package pgstore has the PostgreSQL one).
type IdempotencyKeys interface {
	// Claim claims key for the request whose hash is requestHash. Errors: *KeyReusedError;
	// ErrKeyInProgress.
	Claim(ctx context.Context, tenant domain.TenantID, key string, requestHash [32]byte) (Claim, error)
	// Complete stores the response of the claim's command.
	Complete(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, r StoredResponse) error
	// Release gives the claim up after the command failed. With definite (the command
	// certainly appended nothing) the key is forgotten and may be used again with any
	// request; otherwise the claim lapses at once, so that a retry re-runs the command with the
	// same command id, recovering (Claim.Recovering).
	Release(ctx context.Context, tenant domain.TenantID, key string, commandID uuid.UUID, definite bool) error
}
