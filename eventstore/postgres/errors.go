package postgres

import (
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/pgerr"
)

// classify turns a pgx error into the store's typed errors: whatever a retry may get past (an
// outage or contention, as package pgerr sorts them) becomes *eventstore.UnavailableError;
// context ends pass through; the rest is wrapped.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if pgerr.Of(err).Retryable() {
		return &eventstore.UnavailableError{Op: op, Err: err}
	}
	return wrapf(op, err)
}
