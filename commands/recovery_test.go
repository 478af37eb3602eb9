package commands_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// backwardsReads counts the backward reads of a stream, the reads recovery makes.
type backwardsReads struct {
	eventstore.Store
	n atomic.Int64
}

func (s *backwardsReads) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	if dir == eventstore.Backwards {
		s.n.Add(1)
	}
	return s.Store.ReadStream(ctx, stream, from, dir, limit)
}

// payMany records n payments of 1.00 for customer, concurrently, each under its own command id.
func payMany(t *testing.T, h *commands.Handlers, m commands.Meta, customer domain.CustomerID, n int) {
	t.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < n; i += workers {
				mi := m
				mi.CommandID = uuid.Must(uuid.NewV7())
				_, err := h.RecordPayment(context.Background(), mi, commands.RecordPayment{CustomerID: customer, Amount: usd(t, "1.00"), Method: domain.PaymentMethodCash})
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}

// TestRecoveringStopsAtTheCommandsTime: a lapsed claim's command that never ran reads back only
// to the events recorded before its command id was made (less the clock skew allowed), not the
// whole stream; an id whose time says nothing (derived from a random id), and a command that is
// not a lapsed claim's (a process manager's), read the last page only.
func TestRecoveringStopsAtTheCommandsTime(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	payMany(t, h, f.meta, customer, 1100)
	cmd := commands.RecordPayment{CustomerID: customer, Amount: usd(t, "10.00"), Method: domain.PaymentMethodCard}
	pagesRead := func(id uuid.UUID, lapsed bool) int64 {
		t.Helper()
		m := f.meta
		m.CommandID, m.Recovering, m.LapsedClaim = id, true, lapsed
		reads := &backwardsReads{Store: f.store}
		_, err := newHandlers(reads).RecordPayment(ctx, m, cmd)
		require.NoError(t, err, "not found: the payment is recorded now")
		return reads.n.Load()
	}

	assert.Equal(t, int64(3), pagesRead(uuid.Must(uuid.NewV7()), true), "recent events: read back to the stream's start")
	assert.Equal(t, int64(1), pagesRead(uuid.Must(uuid.NewV7()), false), "not a lapsed claim: the last page only")

	// The same stream recorded an hour before the command ids below were made (the table is
	// append-only: its trigger is off for this one session's rewrite of history).
	tx, err := f.pool.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `UPDATE es_events SET metadata = jsonb_set(metadata::jsonb, '{recorded_at}',
		to_jsonb((metadata->>'recorded_at')::timestamptz - interval '1 hour'))::json`)
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	assert.Equal(t, int64(1), pagesRead(uuid.Must(uuid.NewV7()), true), "older events: the first page ends the search")
	// Derived from a random id whose first bits read as a time far in the future: no time.
	random := uuid.MustParse("ffffffff-ffff-4fff-bfff-ffffffffffff")
	assert.Equal(t, int64(1), pagesRead(commands.DeriveUUID(random, "x"), true), "no time to go by: the last page only")
}

// TestRecoveringReadsWhereTheKeyWasRecorded: a retry given where the event store recorded its
// command's key (Meta.Applied) reads the command's events from there, however many events
// followed them, and answers with them; given a place that holds another command's events, it
// finds nothing there and runs.
func TestRecoveringReadsWhereTheKeyWasRecorded(t *testing.T) {
	t.Parallel()
	f, newHandlers := newFixture(t)
	h := newHandlers(f.store)
	ctx := context.Background()
	customer := f.register(h)
	cmd := commands.RecordPayment{CustomerID: customer, Amount: usd(t, "10.00"), Method: domain.PaymentMethodCard}
	m := f.meta
	m.CommandID = uuid.Must(uuid.NewV7())
	first, err := h.RecordPayment(ctx, m, cmd)
	require.NoError(t, err)
	payMany(t, h, f.meta, customer, 1100)

	m.Recovering, m.LapsedClaim = true, true
	m.Applied = &commands.AppliedAt{Stream: first.Stream, Version: first.Version - uint64(len(first.Events)) + 1}
	reads := &backwardsReads{Store: f.store}
	again, err := newHandlers(reads).RecordPayment(ctx, m, cmd)
	require.NoError(t, err)
	assert.Equal(t, first.ID, again.ID)
	assert.Equal(t, first.Version, again.Version)
	assert.Equal(t, first.Position, again.Position)
	assert.Len(t, again.Events, len(first.Events))
	assert.Zero(t, reads.n.Load(), "no search back through the 1,100 payments after it")

	other := m
	other.CommandID = uuid.Must(uuid.NewV7())
	other.LapsedClaim = false
	other.Applied = m.Applied // another command's events there
	ran, err := h.RecordPayment(ctx, other, cmd)
	require.NoError(t, err)
	assert.NotEqual(t, first.ID, ran.ID, "not its events: the command runs")
}
