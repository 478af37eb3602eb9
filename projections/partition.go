package projections

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/wait"
)

// MaxPartitions bounds Options.Partitions (and projection_builds.partitions).
const MaxPartitions = 64

// firstBuildPartitions is the partitions of a projection's first build when
// Options.Partitions leaves it open (0): one, the whole projection in one process at a time.
const firstBuildPartitions = 1

// partitionKey is the tenant an event is partitioned by: its metadata's tenant, else the
// tenant its stream id names (domain.ParseStream: the read models file such an event's rows
// under it too), else "".
func partitionKey(ev *eventstore.Envelope) string {
	if t := ev.Metadata.TenantID; t != "" {
		return t
	}
	if t, _, _, err := domain.ParseStream(ev.StreamID); err == nil {
		return t.String()
	}
	return ""
}

// PartitionOf is the partition of a live build split into n that holds tenant's events
// (FNV-1a of the tenant, modulo n): the one a WaitForTenant of tenant waits for.
func PartitionOf(tenant string, n int) int { return partitionOf(tenant, n) }

// partitionOf is the partition of tenant among n (FNV-1a of the tenant, modulo n).
func partitionOf(tenant string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant))
	return int(h.Sum32() % uint32(n)) //nolint:gosec // n is at most MaxPartitions
}

// eventPartition is the partition of ev among n.
func eventPartition(ev *Event, n int) int { return partitionOf(partitionKey(&ev.Envelope), n) }

// liveBatch is what a live handler of one partition makes of a batch: its first and last
// positions (the checkpoint moves to last, over the other partitions' events too) and its
// partition's events, decoded (only those: decoding is most of the cost).
type liveBatch struct {
	first eventstore.Position
	last  Event
	mine  []Event
}

// partBatch decodes, for e, the events of envs (a live batch, in order) in partition p, into
// buf's array when it is large enough (see decodeInto).
func (r *Runtime) partBatch(e *entry, p livePart, envs []eventstore.Envelope, buf []Event) liveBatch {
	b := liveBatch{first: envs[0].Position, last: Event{Envelope: envs[len(envs)-1]}}
	mine := envs
	if p.n > 1 {
		mine = make([]eventstore.Envelope, 0, len(envs)/p.n+1)
		for i := range envs {
			if partitionOf(partitionKey(&envs[i]), p.n) == p.k {
				mine = append(mine, envs[i])
			}
		}
	}
	b.mine = r.decodeInto(buf, decodeSet{e}, mine)
	return b
}

// partConsumer is the feed_checkpoints row of partition k of build split into n: the build's
// own row when n is 1, else projections.<build>/pNN.
func partConsumer(build string, n, k int) string {
	if n <= 1 {
		return buildConsumer(build)
	}
	return fmt.Sprintf("%s/p%02d", buildConsumer(build), k)
}

// partConsumers lists the checkpoint rows of build's n partitions, in partition order.
func partConsumers(build string, n int) []string {
	out := make([]string, max(n, 1))
	for k := range out {
		out[k] = partConsumer(build, n, k)
	}
	return out
}

// partRowsOf is the SQL condition selecting the checkpoint rows c of a build b: the build's
// own row while it is filled (a shadow build, a copy) or when it has one partition, else its
// partition rows (written at the swap, or with the first build).
const partRowsOf = `CASE WHEN b.partitions > 1 AND b.status IN ('live', 'retired')
THEN starts_with(c.consumer, 'projections.' || b.schema_name || '/p') ELSE c.consumer = 'projections.' || b.schema_name END`

// partitionsFor is the number of partitions a new live or shadow build of e gets: 1 for a
// cross-tenant projection, else Options.Partitions, else (0) the live build's count, or
// firstBuildPartitions for the first build.
func (r *Runtime) partitionsFor(ctx context.Context, e *entry) (int, error) {
	switch {
	case e.tuning.CrossTenant:
		return 1, nil
	case r.opts.Partitions > 0:
		return r.opts.Partitions, nil
	}
	var n int
	err := r.pool.QueryRow(ctx, `SELECT b.partitions FROM `+r.sqls.registry+` r JOIN `+r.sqls.builds+` b ON b.schema_name = r.live_build
WHERE r.name = $1`, e.name).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return firstBuildPartitions, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read the partitions of the live build of %s: %w", e.name, err)
	}
	return n, nil
}

// partLockKey is the advisory lock serializing the appliers of partition k of e's live build.
func (r *Runtime) partLockKey(e *entry, k int) int64 { return partLockKeyOf(r.app, e.name, k) }

// partLockKeyOf is the advisory lock of partition k of projection name in app's runtime.
func partLockKeyOf(app, name string, k int) int64 {
	return lockKey(app, "apply-part", name+"/"+strconv.Itoa(k))
}

// partLockRetry is how often beginPartLocked tries again for locks another transaction holds.
const partLockRetry = 25 * time.Millisecond

// beginPartLocked begins a transaction holding e's lock shared (so that a whole-projection
// transaction: catch-up, swap, retry, waits for it and holds it off) and partition k's lock,
// with its search_path set to build (the build the caller means to apply to), and reads e's
// live build with the tenants stalled in it. While either lock is taken it waits without a
// connection (trying again every partLockRetry): a swap holding e's lock reads the feed
// through the pool, which the waiting partitions of every projection must not exhaust.
//
// Two statements in one round trip (lockPart): the locks (with the transaction's settings),
// then the registry, which must be read in a statement of its own after the locks so that its
// snapshot sees the previous holder's commit, and which then sets the search_path (see
// readLiveRow). A live build that
// is not build any more is refused by the caller (checkLive) before anything is written, so
// setting the search_path before that check is harmless.
//
// It first takes one of the runtime's live slots (Options.LiveConcurrency) unless a waiter of
// this process waits for a position from first on (held false: it took none); the caller gives
// a held slot back with r.slots.release() once the transaction has ended (on an error it is
// given back here). It gives the slot back while it waits for the locks, so that a partition
// waiting on another process or a swap holds none. waited is how long it waited for slots.
func (r *Runtime) beginPartLocked(ctx context.Context, e *entry, k int, build string, first eventstore.Position) (tx pgx.Tx, lb liveBuild, found, held bool, waited time.Duration, err error) {
	before := first
	if before > 0 {
		before-- // a waiter for any position of the batch needs it
	}
	urgent := func() (<-chan struct{}, bool) { return e.demand.beyond(before) }
	for {
		var w time.Duration
		held, w, err = r.slots.acquire(ctx, urgent)
		waited += w
		if err != nil {
			return nil, liveBuild{}, false, false, waited, err
		}
		tx, lb, found, err = r.tryPartLocks(ctx, e, k, build)
		if tx != nil {
			return tx, lb, found, held, waited, nil
		}
		if held {
			r.slots.release() // not kept while it waits for the locks
		}
		if err == nil {
			err = wait.Sleep(ctx, partLockRetry)
		}
		if err != nil {
			return nil, liveBuild{}, false, false, waited, err
		}
	}
}

// tryPartLocks begins a transaction and takes partition k's locks in it (lockPart): the
// transaction when it got them, else none (rolled back), with lockPart's or Begin's error, or
// nil when another transaction holds them.
func (r *Runtime) tryPartLocks(ctx context.Context, e *entry, k int, build string) (pgx.Tx, liveBuild, bool, error) {
	tx, err := r.pool.Begin(ctx)
	if err != nil {
		return nil, liveBuild{}, false, fmt.Errorf("begin: %w", err)
	}
	lb, found, locked, err := r.lockPart(ctx, tx, e, k, build)
	if err != nil || !locked {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return nil, liveBuild{}, false, err
	}
	return tx, lb, found, nil
}

// lockPart takes partition k's locks in tx and reads the registry (readLiveRow with build's
// search_path): two statements in one round trip. PostgreSQL runs a pipeline's statements one
// after the other, each with a snapshot of its own, so the registry is still read after the
// locks are held. When they are not (locked false), the registry's answer is dropped.
//
// synchronous_commit off, set with the locks: the rows and the checkpoint commit together, so
// the crash of PostgreSQL loses both (the partition resumes from the checkpoint that reached
// the disk, see checkpointOffsets), never one without the other. A live batch then costs no
// flush of the WAL of its own, and the event store's appends, which do wait for theirs, share
// the disk with fewer flushes.
func (r *Runtime) lockPart(ctx context.Context, tx pgx.Tx, e *entry, k int, build string) (lb liveBuild, found, locked bool, err error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_try_advisory_xact_lock_shared($1) AND pg_try_advisory_xact_lock($2),
			set_config('synchronous_commit', 'off', true)`, e.lockKey, r.partLockKey(e, k))
	b.Queue(r.sqls.readLiveStalls, e.name, ident(build))
	br := tx.SendBatch(ctx, b)
	defer func() {
		if cerr := br.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("lock partition %d of %s: %w", k, e.name, cerr)
		}
	}()
	var sync string
	if err := br.QueryRow().Scan(&locked, &sync); err != nil {
		return liveBuild{}, false, false, fmt.Errorf("lock partition %d of %s: %w", k, e.name, err)
	}
	lb, found, err = scanLiveRow(br.QueryRow(), e.name, true)
	if !locked {
		return liveBuild{}, false, false, nil
	}
	return lb, found, true, err
}

// splitCheckpoint gives build (just made live, with n > 1 partitions) one checkpoint row per
// partition at its own checkpoint, and deletes its own row, within tx: from here on each
// partition advances on its own.
func (r *Runtime) splitCheckpoint(ctx context.Context, tx pgx.Tx, build string, n int) error {
	if n <= 1 {
		return nil
	}
	_, err := tx.Exec(ctx, `WITH old AS (DELETE FROM `+qualified(r.app, "feed_checkpoints")+` WHERE consumer = $1 RETURNING position, recorded_at)
INSERT INTO `+qualified(r.app, "feed_checkpoints")+` (consumer, position, recorded_at)
SELECT p, coalesce(old.position, 0), old.recorded_at FROM old, unnest($2::text[]) AS p
ON CONFLICT (consumer) DO UPDATE SET position = excluded.position, recorded_at = excluded.recorded_at, updated_at = now()`,
		buildConsumer(build), partConsumers(build, n))
	if err != nil {
		return fmt.Errorf("split the checkpoint of %s into %d partitions: %w", build, n, err)
	}
	return nil
}

// unapplied returns the events of evs after their partition's checkpoint in lb: evs itself
// when that is all of them (a catch-up's batch, each partition behind its first event), else a
// copy of those.
func (lb *liveBuild) unapplied(evs []Event) []Event {
	return keepShared(evs, func(e *Event) bool { return e.Position > lb.cps[eventPartition(e, lb.partitions)] })
}

// applied returns the events of evs at or below their partition's checkpoint in lb.
func (lb *liveBuild) applied(evs []Event) []Event {
	out := evs[:0]
	for i := range evs {
		if evs[i].Position <= lb.cps[eventPartition(&evs[i], lb.partitions)] {
			out = append(out, evs[i])
		}
	}
	return out
}

// behindAt returns the partitions of lb whose checkpoint is below pos.
func (lb *liveBuild) behindAt(pos eventstore.Position) []int {
	var out []int
	for k, cp := range lb.cps {
		if cp < pos {
			out = append(out, k)
		}
	}
	return out
}

// PartitionStatus is one partition of a live build split by tenant hash.
type PartitionStatus struct {
	Partition int                 `json:"partition"`
	Position  eventstore.Position `json:"position"`
	// Holder is the projector process applying it ("" when none holds its lease).
	Holder string `json:"holder,omitempty"`
}

// holders joins the distinct holders of parts, sorted ("" when none).
func holders(parts []PartitionStatus) string {
	var hs []string
	for _, p := range parts {
		if p.Holder != "" && !slices.Contains(hs, p.Holder) {
			hs = append(hs, p.Holder)
		}
	}
	slices.Sort(hs)
	return strings.Join(hs, ",")
}
