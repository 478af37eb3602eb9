package projections

import (
	"context"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/consumer"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// versioned is a projection with nothing in it but a name and a version.
type versioned struct{ version int }

func (versioned) Name() string                                 { return "counter" }
func (v versioned) Version() int                               { return v.version }
func (versioned) Tables() []string                             { return nil }
func (versioned) Setup(context.Context, pgx.Tx) error          { return nil }
func (versioned) Apply(context.Context, pgx.Tx, []Event) error { return nil }
func (versioned) Tuning() Tuning                               { return Tuning{} }

// TestShareCountsProcessesOfTheSameVersion: the partitions of a projection are shared among
// the projector processes running its version whose membership has not run out. A process of
// another version (a rolling deploy) does not apply that live build, so it does not count; a
// stopped one (its rows deleted) and a dead one (its lease run out) do not either.
func TestShareCountsProcessesOfTheSameVersion(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	r, err := New(ctx, pool, store, []Projection{versioned{version: 1}}, Options{Lease: consumer.LeaseConfig{Holder: "a"}})
	require.NoError(t, err)
	e := r.entries["counter"]

	r.heartbeat(ctx)
	assert.Equal(t, 1, r.processes(e), "alone")
	_, err = pool.Exec(ctx, `INSERT INTO feed_checkpoints (consumer, lease_holder, lease_expires_at) VALUES
('projectors/counter.v2/new', 'new', now() + interval '1 hour'),
('projectors/counter.v1/peer', 'peer', now() + interval '1 hour'),
('projectors/counter.v1/dead', 'dead', now() - interval '1 second')`)
	require.NoError(t, err)
	r.heartbeat(ctx)
	assert.Equal(t, 2, r.processes(e), "a and peer; not new (version 2) nor dead (its lease ran out)")
	assert.Equal(t, 2, fairShare(4, r.processes(e)))
	assert.Equal(t, 3, fairShare(5, r.processes(e)))

	r.leaveMembership(ctx)
	var left int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM feed_checkpoints WHERE consumer = 'projectors/counter.v1/a'`).Scan(&left))
	assert.Zero(t, left, "a stopping process leaves at once")
}

// TestUnappliedLeavesOutWhatEachPartitionApplied: a catch-up's batch is handed on as it is
// when every event is after its partition's checkpoint; otherwise only those events are, in
// order, in a slice of their own (the batch is shared with the other projections' commits).
func TestUnappliedLeavesOutWhatEachPartitionApplied(t *testing.T) {
	evs := make([]Event, 8)
	for i := range evs {
		evs[i].Position = eventstore.Position(i + 1) //nolint:gosec // small
		evs[i].StreamID = fmt.Sprintf("t-%d/customer-%d", i%3, i)
	}
	parts := func(cps ...eventstore.Position) *liveBuild { return &liveBuild{partitions: len(cps), cps: cps} }
	positions := func(evs []Event) (out []eventstore.Position) {
		for i := range evs {
			out = append(out, evs[i].Position)
		}
		return out
	}
	want := func(lb *liveBuild) (out []eventstore.Position) {
		for i := range evs {
			if evs[i].Position > lb.cps[eventPartition(&evs[i], lb.partitions)] {
				out = append(out, evs[i].Position)
			}
		}
		return out
	}

	all := parts(0, 0, 0)
	got := all.unapplied(evs)
	assert.Equal(t, positions(evs), positions(got))
	assert.Same(t, &evs[0], &got[0], "nothing applied: the batch itself, no copy")

	assert.Equal(t, []eventstore.Position{4, 5, 6, 7, 8}, positions(parts(3).unapplied(evs)), "one partition at 3")
	assert.Empty(t, parts(8).unapplied(evs), "one partition at the batch's end")
	for _, lb := range []*liveBuild{parts(3), parts(3, 5), parts(8, 0, 2), parts(2, 2, 2), parts(8, 8, 8)} {
		got := lb.unapplied(evs)
		assert.Equal(t, want(lb), positions(got), "checkpoints %v", lb.cps)
		if len(got) > 0 && len(got) < len(evs) {
			assert.NotSame(t, &evs[0], &got[0], "checkpoints %v: a copy, not the shared batch", lb.cps)
		}
	}
	assert.Equal(t, []eventstore.Position{1, 2, 3, 4, 5, 6, 7, 8}, positions(evs), "the batch is untouched")
}
