package postgres

import (
	"context"

	"github.com/dotmac/ledger/eventstore"
)

var _ eventstore.MultiStreamStore = (*Store)(nil)

// readStreamsSQL reads each named stream from its version, in the order named, through the
// (stream_id, version) index: one index range per stream.
const readStreamsSQL = `SELECT e.position, e.event_id, e.stream_id, e.version, e.type, e.schema_version, e.data, e.metadata, e.hash
FROM unnest($1::text[], $2::bigint[]) WITH ORDINALITY AS s(stream_id, from_version, ord)
CROSS JOIN LATERAL (
    SELECT ` + envelopeColumns + ` FROM es_events ev
    WHERE ev.stream_id = s.stream_id AND ev.version >= s.from_version
    ORDER BY ev.version LIMIT $3
) e
ORDER BY s.ord, e.version
LIMIT $3`

// ReadStreams implements eventstore.MultiStreamStore in one query.
func (s *Store) ReadStreams(ctx context.Context, reads []eventstore.StreamRead, limit int) ([]eventstore.Envelope, error) {
	if err := eventstore.ValidateStreamReads(reads, limit); err != nil {
		return nil, err
	}
	if len(reads) == 0 {
		return nil, nil
	}
	streams, froms := make([]string, len(reads)), make([]int64, len(reads))
	for i, r := range reads {
		streams[i], froms[i] = r.Stream, int64(r.From) //nolint:gosec // validated ≤ 2^62
	}
	return s.query(ctx, "read streams", min(limit, 1024), readStreamsSQL, streams, froms, limit)
}

// AppendStreams implements eventstore.MultiStreamStore: the appends are queued together, so
// the group-commit writer takes them into one transaction (several when they exceed
// Config.MaxBatchAppends or MaxBatchEvents).
func (s *Store) AppendStreams(ctx context.Context, appends []eventstore.StreamAppend) []eventstore.AppendOutcome {
	if err := eventstore.ValidateStreamAppends(appends); err != nil {
		return eventstore.FailAll(appends, err)
	}
	out := make([]eventstore.AppendOutcome, len(appends))
	reqs := make([]*appendReq, 0, len(appends))
	index := make([]int, 0, len(appends))
	for i, a := range appends {
		if err := eventstore.ValidateAppend(a.Stream, a.Events); err != nil {
			out[i].Err = err
			continue
		}
		reqs = append(reqs, &appendReq{stream: a.Stream, expected: a.Expected, events: a.Events})
		index = append(index, i)
	}
	if len(reqs) == 0 {
		return out
	}
	for j, o := range s.writer.submitAll(ctx, reqs) {
		out[index[j]] = eventstore.AppendOutcome{Result: o.res, Err: o.err}
	}
	return out
}
