package kurrentdb

import (
	"context"

	"github.com/dotmac/ledger/eventstore"
)

var _ eventstore.MultiStreamStore = (*Store)(nil)

// ReadStreams implements eventstore.MultiStreamStore stream by stream: KurrentDB reads one
// stream per call.
func (s *Store) ReadStreams(ctx context.Context, reads []eventstore.StreamRead, limit int) ([]eventstore.Envelope, error) {
	return eventstore.ReadStreamsEach(ctx, s, reads, limit)
}

// AppendStreams implements eventstore.MultiStreamStore one append after the other: KurrentDB
// appends to one stream per call.
func (s *Store) AppendStreams(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome {
	return eventstore.AppendStreamsEach(ctx, s, appends)
}
