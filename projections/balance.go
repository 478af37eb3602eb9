package projections

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore/consumer"
)

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
