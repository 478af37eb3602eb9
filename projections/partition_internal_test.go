package projections

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

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
