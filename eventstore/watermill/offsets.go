package watermill

import (
	"context"

	"github.com/dotmac/ledger/eventstore"
)

// OffsetStore keeps consumer-group offsets. Implementations must be safe for concurrent use.
// eventstore/consumer's Offsets keeps them in PostgreSQL, beside the other feed consumers'
// checkpoints.
type OffsetStore interface {
	// Load returns the position up to which group has acknowledged topic (0: nothing yet).
	Load(ctx context.Context, group, topic string) (eventstore.Position, error)
	// Save records that group has acknowledged topic up to pos. An offset never moves
	// backwards: saving a lower position than the stored one changes nothing.
	Save(ctx context.Context, group, topic string, pos eventstore.Position) error
}
