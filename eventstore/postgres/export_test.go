package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
)

// SetBeforeCommitHook runs f inside every append transaction after the rows are planned and
// before they are written, on the writer's connection. For tests only.
func SetBeforeCommitHook(s *Store, f func(ctx context.Context, conn *pgxpool.Conn) error) {
	s.hooks.beforeCommit = f
}

// LockKey exposes the advisory lock key appends serialize on.
func LockKey(s *Store) int64 { return s.lockKey }

// ScanBothWays reads the same rows with the raw scanner and with pgx's Scan, and says
// whether the query's columns took the raw path.
func ScanBothWays(ctx context.Context, pool *pgxpool.Pool, sql string, args ...any) (raw, generic []eventstore.Envelope, rawPath bool, err error) {
	rows, err := pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, false, err
	}
	rawPath = rawLayout(rows.FieldDescriptions())
	if raw, err = ScanEnvelopes(rows, 64); err != nil {
		return nil, nil, false, err
	}
	rows, err = pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, nil, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var e eventstore.Envelope
		if err := scanGeneric(rows, &e); err != nil {
			return nil, nil, false, err
		}
		if e.Metadata, err = eventstore.DecodeMetadata(e.RawMetadata); err != nil {
			return nil, nil, false, err
		}
		generic = append(generic, e)
	}
	return raw, generic, rawPath, rows.Err()
}

// EnvelopeColumns is the column list ScanEnvelopes reads.
const EnvelopeColumns = envelopeColumns

// The append's lookups and the feed's read, for their plans' test.
const (
	HeadsSQL   = headsSQL
	IDsSQL     = idsSQL
	KeysSQL    = keysSQL
	ReadAllSQL = readAllSQL
)

// InsertIfHeadWithKeysSQL is the statement of a one-round-trip batch with keys, for the tests
// that trace it.
var InsertIfHeadWithKeysSQL = insertIfHeadWithKeysSQL
