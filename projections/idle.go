package projections

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// An idle batch is a live batch with no event of the projection's partition that its Apply
// handles: the invoices projection's batch of service events, the catalog's of payments. Its
// transaction only moves the checkpoint, yet the full path costs four round trips (begin, the
// locks with the registry, the checkpoint, commit), and on a busy feed most projections'
// batches are idle most of the time (under payments alone, four of the seven).
//
// advanceIdle moves such a batch's checkpoint in one round trip: two statements sent together,
// which PostgreSQL runs as one implicit transaction. The first takes the partition's locks
// (as beginPartLocked) and records in a transaction-local setting whether it got them. The
// second, whose snapshot is therefore taken after the locks are held (each statement of a
// pipeline takes its own), moves the checkpoint only if the locks are held and the registry
// still names the partition's build, of this version and partition count, not stalled, and if
// the checkpoint is where checkLive wants it (below the batch's end, and on a dense feed no
// further back than just before its first event, or the last batch acked without a
// transaction); it announces the new checkpoint as advanceNotify does. When it moved nothing,
// the caller takes the full path, which finds out why (a redelivery, a swap, a stall, a lock
// held elsewhere) and acts as for any batch.

// idle reports whether b holds no event of its partition that e's Apply handles.
func (b *liveBatch) idle(e *entry) bool {
	for i := range b.mine {
		if e.handlesType(b.mine[i].Type) {
			return false
		}
	}
	return true
}

// advanceIdle moves partition p's checkpoint over the idle batch b in one round trip, and
// reports whether it did (false, nil: the full path must run; see above).
func (r *Runtime) advanceIdle(ctx context.Context, e *entry, p livePart, b liveBatch, skipped eventstore.Position) (bool, error) {
	// The checkpoint must be at least floor (checkLive's condition on a dense feed).
	var floor int64
	if r.feed.dense() && b.first > skipped+1 {
		floor = int64(b.first) - 1 //nolint:gosec // positions fit
	}
	last := int64(b.last.Position) //nolint:gosec // positions fit
	batch := &pgx.Batch{}
	batch.Queue(r.sqls.idleLock, e.lockKey, r.partLockKey(e, p.k))
	batch.Queue(r.sqls.idleAdvance, e.name, p.build, e.p.Version(), p.n, partConsumer(p.build, p.n, p.k), last,
		b.last.RecordedAt(), floor, r.sqls.channel, notePayload(e.name, p.n, p.k, strconv.FormatInt(last, 10)))
	br := r.pool.SendBatch(ctx, batch)
	_, err := br.Exec()
	var moved, notified int64
	if err == nil {
		err = br.QueryRow().Scan(&moved, &notified)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return false, fmt.Errorf("projection %s: advance partition %d over an idle batch: %w", e.name, p.k, err)
	}
	return moved == 1, nil
}

// idleStatements sets s.idleLock and s.idleAdvance (see advanceIdle).
func (s *sqlText) idleStatements() {
	s.idleLock = `SELECT set_config('dotmac.idle_locked', (pg_try_advisory_xact_lock_shared($1) AND pg_try_advisory_xact_lock($2))::text, true),
set_config('synchronous_commit', 'off', true)`
	s.idleAdvance = `WITH live AS (SELECT 1 FROM ` + s.registry + ` r JOIN ` + s.builds + ` b ON b.schema_name = r.live_build
WHERE current_setting('dotmac.idle_locked') = 'true' AND r.name = $1 AND r.live_build = $2 AND r.state <> '` + string(StateStalled) + `'
AND b.version = $3 AND b.partitions = $4),
a AS (UPDATE ` + qualified(s.app, "feed_checkpoints") + ` SET position = $6, recorded_at = $7, updated_at = now()
WHERE consumer = $5 AND coalesce(position, 0) < $6 AND coalesce(position, 0) >= $8 AND EXISTS (SELECT 1 FROM live) RETURNING 1)
SELECT count(*), count(pg_notify($9, $10)) FROM a`
}
