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
	"github.com/dotmac/ledger/eventstore/consumer"
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

// partBatch decodes, for e, the events of envs (a live batch, in order) in partition p.
func (r *Runtime) partBatch(e *entry, p livePart, envs []eventstore.Envelope) liveBatch {
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
	b.mine = r.decode(decodeSet{e}, mine)
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
func (r *Runtime) partLockKey(e *entry, k int) int64 {
	return lockKey(r.app, "apply-part", e.name+"/"+strconv.Itoa(k))
}

// partLockRetry is how often beginPartLocked tries again for locks another transaction holds.
const partLockRetry = 25 * time.Millisecond

// beginPartLocked begins a transaction holding e's lock shared (so that a whole-projection
// transaction: catch-up, swap, retry, waits for it and holds it off) and partition k's lock,
// and reads e's live build. While either lock is taken it waits without a connection (trying
// again every partLockRetry): a swap holding e's lock reads the feed through the pool, which
// the waiting partitions of every projection must not exhaust.
func (r *Runtime) beginPartLocked(ctx context.Context, e *entry, k int) (pgx.Tx, liveBuild, bool, error) {
	for {
		tx, err := r.pool.Begin(ctx)
		if err != nil {
			return nil, liveBuild{}, false, fmt.Errorf("begin: %w", err)
		}
		var locked bool
		err = tx.QueryRow(ctx, `SELECT pg_try_advisory_xact_lock_shared($1) AND pg_try_advisory_xact_lock($2)`, e.lockKey, r.partLockKey(e, k)).Scan(&locked)
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, liveBuild{}, false, fmt.Errorf("lock partition %d of %s: %w", k, e.name, err)
		}
		if !locked {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			if err := wait.Sleep(ctx, partLockRetry); err != nil {
				return nil, liveBuild{}, false, err
			}
			continue
		}
		lb, found, err := r.readLive(ctx, tx, e.name)
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			return nil, liveBuild{}, false, err
		}
		return tx, lb, found, nil
	}
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

// unapplied returns the events of evs after their partition's checkpoint in lb.
func (lb *liveBuild) unapplied(evs []Event) []Event {
	out := make([]Event, 0, len(evs))
	for i := range evs {
		if evs[i].Position > lb.cps[eventPartition(&evs[i], lb.partitions)] {
			out = append(out, evs[i])
		}
	}
	return out
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

// memberKey names what a projector process runs, for the count of processes sharing a
// projection's partitions: projection name and code version ("invoices.v3"). A process of
// another version (a rolling deploy) does not apply that live build, so it does not count.
func memberKey(e *entry) string { return e.name + ".v" + strconv.Itoa(e.p.Version()) }

// memberPrefix starts the feed_checkpoints rows of the projector processes' membership:
// projectors/<memberKey>/<holder>, one per projection a process runs, renewed (lease_expires_at)
// at every tick of its loop.
const memberPrefix = "projectors/"

// memberStaleAfter: the member rows of processes gone this long are deleted at start.
const memberStaleAfter = time.Hour

// memberRows are this process's membership rows.
func (r *Runtime) memberRows() []string {
	out := make([]string, 0, len(r.order))
	for _, name := range r.order {
		out = append(out, memberPrefix+memberKey(r.entries[name])+"/"+r.opts.Lease.Holder)
	}
	return out
}

// heartbeat renews this process's membership rows (for the lease TTL) and counts, per
// projection and version, the projector processes whose membership has not run out.
func (r *Runtime) heartbeat(ctx context.Context) {
	now := r.leaseNow()
	fc := qualified(r.app, "feed_checkpoints")
	_, err := r.pool.Exec(ctx, `INSERT INTO `+fc+` AS f (consumer, lease_holder, lease_expires_at, lease_renewed_at)
SELECT c, $2, $3, $4 FROM unnest($1::text[]) AS c
ON CONFLICT (consumer) DO UPDATE SET lease_holder = excluded.lease_holder, lease_expires_at = excluded.lease_expires_at,
    lease_renewed_at = excluded.lease_renewed_at`, r.memberRows(), r.opts.Lease.Holder, now.Add(r.leaseTTL()), now)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("projections: renewing this projector's membership")
		}
		return
	}
	counts := map[string]int{}
	rows, err := r.pool.Query(ctx, `SELECT split_part(substr(consumer, length($1) + 1), '/', 1) FROM `+fc+`
WHERE starts_with(consumer, $1) AND lease_expires_at > $2`, memberPrefix, now)
	if err == nil {
		var key string
		_, err = pgx.ForEachRow(rows, []any{&key}, func() error {
			counts[key]++
			return nil
		})
	}
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn().Err(err).Msg("projections: counting the projector processes")
		}
		return
	}
	r.membersMu.Lock()
	r.members = counts
	r.membersMu.Unlock()
}

// processes is how many projector processes run e's version (at least 1: this one).
func (r *Runtime) processes(e *entry) int {
	r.membersMu.Lock()
	defer r.membersMu.Unlock()
	return max(r.members[memberKey(e)], 1)
}

// leaveMembership deletes this process's membership rows: the others take its share at once.
func (r *Runtime) leaveMembership(ctx context.Context) {
	if _, err := r.pool.Exec(ctx, `DELETE FROM `+qualified(r.app, "feed_checkpoints")+` WHERE consumer = ANY($1)`, r.memberRows()); err != nil {
		r.log.Warn().Err(err).Msg("projections: leaving the projector processes (the membership runs out after the lease TTL)")
	}
}

// leaseTTL is the live leases' TTL.
func (r *Runtime) leaseTTL() time.Duration {
	if r.opts.Lease.TTL > 0 {
		return r.opts.Lease.TTL
	}
	return consumer.DefaultLeaseTTL
}

// forgetStaleMembers deletes the member rows of processes gone for memberStaleAfter.
func (r *Runtime) forgetStaleMembers(ctx context.Context) error {
	_, err := r.pool.Exec(ctx, `DELETE FROM `+qualified(r.app, "feed_checkpoints")+` WHERE starts_with(consumer, $1)
AND (lease_expires_at IS NULL OR lease_expires_at < $2)`, memberPrefix, r.leaseNow().Add(-memberStaleAfter))
	if err != nil {
		return fmt.Errorf("forget the projector processes gone: %w", err)
	}
	return nil
}

// partLease is who holds a partition's lease.
type partLease struct {
	holder string // "" when free or expired
}

// partLeases reads the leases of build's n partitions, in partition order.
func (r *Runtime) partLeases(ctx context.Context, build string, n int) ([]partLease, error) {
	names := partConsumers(build, n)
	rows, err := r.pool.Query(ctx, `SELECT consumer, CASE WHEN lease_expires_at > $2 THEN lease_holder END
FROM `+qualified(r.app, "feed_checkpoints")+` WHERE consumer = ANY($1)`, names, r.leaseNow())
	if err != nil {
		return nil, fmt.Errorf("read the partition leases of %s: %w", build, err)
	}
	out := make([]partLease, len(names))
	var name string
	var holder *string
	_, err = pgx.ForEachRow(rows, []any{&name, &holder}, func() error {
		if k := slices.Index(names, name); k >= 0 && holder != nil {
			out[k].holder = *holder
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the partition leases of %s: %w", build, err)
	}
	return out, nil
}

// fairShare is how many of n partitions each of members processes runs (rounded up).
func fairShare(n, members int) int {
	members = max(members, 1)
	return (n + members - 1) / members
}

// balance runs this process's fair share of the partitions of e's live build: it stops the
// handlers beyond it (those standing by first, then the highest partitions: their leases are
// released for another process) and starts handlers for free partitions (no holder, or an
// expired lease) up to it. Called at every tick, it converges: a process that starts takes
// its share as the others give theirs up, and the partitions of one that stops (releasing
// its leases) or dies (its leases run out) are taken by the others.
func (r *Runtime) balance(ctx context.Context, e *entry, build string, n int) {
	leases, err := r.partLeases(ctx, build, n)
	if err != nil {
		if ctx.Err() == nil {
			r.log.Warn().Err(err).Str("projection", e.name).Msg("projections: balancing partitions")
		}
		return
	}
	me := r.opts.Lease.Holder
	share := fairShare(n, r.processes(e))
	mine := r.live.runningParts(e.name, build)
	if extra := len(mine) - share; extra > 0 {
		// Give up the ones standing by first, then the highest.
		slices.SortStableFunc(mine, func(a, b int) int {
			ah, bh := leases[a].holder == me, leases[b].holder == me
			switch {
			case ah != bh && !ah:
				return -1
			case ah != bh:
				return 1
			}
			return b - a
		})
		for _, k := range mine[:extra] {
			r.live.stopPart(build, k)
		}
	}
	for k := 0; k < n && len(mine) < share; k++ {
		if leases[k].holder != "" || slices.Contains(mine, k) {
			continue
		}
		if err := r.live.ensure(e, build, n, k); err != nil {
			if ctx.Err() == nil {
				r.log.Warn().Err(err).Str("projection", e.name).Int("partition", k).Msg("projections: could not start the live projector")
			}
			return
		}
		mine = append(mine, k)
	}
	owned := 0
	for _, l := range leases {
		if l.holder == me {
			owned++
		}
	}
	r.metrics.partitions(e.name, n, owned)
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
