package postgres_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/db"
)

func testEvent(n int) eventstore.EventData {
	return eventstore.EventData{ID: newID(), Type: "TestEvent", SchemaVersion: 1, Data: []byte(`{"n":` + itoa(n) + `}`)}
}

// waitFor reads from sub until it returns an event at or past pos.
func waitFor(t *testing.T, sub eventstore.Subscription, pos eventstore.Position) []eventstore.Envelope {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var out []eventstore.Envelope
	for sub.Position() < pos {
		batch, err := sub.Next(ctx)
		require.NoError(t, err, "subscriber stalled before position %d", pos)
		out = append(out, batch...)
	}
	return out
}

// TestWriterConnectionKilledMidway: the writer's backend is terminated after it took the
// append lock and read the state, before it inserts and commits. Nothing of the batch is
// stored, the caller gets a retryable error, and the store and its subscriber carry on.
func TestWriterConnectionKilledMidway(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	ctx := context.Background()
	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()

	var armed atomic.Bool
	armed.Store(true)
	postgres.SetBeforeCommitHook(s, func(ctx context.Context, conn *pgxpool.Conn) error {
		if !armed.CompareAndSwap(true, false) {
			return nil
		}
		pid := conn.Conn().PgConn().PID()
		_, err := s.Pool().Exec(ctx, "SELECT pg_terminate_backend($1)", pid)
		return err
	})
	doomed := []eventstore.EventData{testEvent(1), testEvent(2)}
	_, err = s.Append(ctx, "killed", eventstore.NoStream(), doomed...)
	require.Error(t, err)
	assert.ErrorIs(t, err, eventstore.ErrUnavailable, "a killed connection is a retryable error: %v", err)

	_, err = s.ReadStream(ctx, "killed", 1, eventstore.Forwards, 10)
	assert.ErrorIs(t, err, eventstore.ErrStreamNotFound, "no partial append")

	res, err := s.Append(ctx, "killed", eventstore.NoStream(), doomed...)
	require.NoError(t, err, "the retry with the same ids goes through")
	assert.False(t, res.Duplicate)
	got := waitFor(t, sub, res.LastPosition)
	require.Len(t, got, 2)
	assert.Equal(t, eventstore.Position(1), got[0].Position, "positions stay dense after the aborted batch")
}

// TestBatchCancelledMidway: the transaction's context ends between its two round trips.
func TestBatchCancelledMidway(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	ctx := context.Background()
	var armed atomic.Bool
	armed.Store(true)
	postgres.SetBeforeCommitHook(s, func(context.Context, *pgxpool.Conn) error {
		if armed.CompareAndSwap(true, false) {
			return context.Canceled
		}
		return nil
	})
	_, err := s.Append(ctx, "cancelled", eventstore.NoStream(), testEvent(1))
	require.ErrorIs(t, err, context.Canceled)
	head, err := s.Head(ctx)
	require.NoError(t, err)
	assert.Zero(t, head)
	res, err := s.Append(ctx, "cancelled", eventstore.NoStream(), testEvent(2))
	require.NoError(t, err)
	assert.Equal(t, eventstore.Position(1), res.LastPosition)
}

// TestForeignWriterKilledInsideLock: another session takes the append lock, inserts a row and
// dies before committing. The subscriber never sees its row and keeps delivering; appends
// resume as soon as the dead session's lock is released.
func TestForeignWriterKilledInsideLock(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	ctx := context.Background()
	first, err := s.Append(ctx, "a", eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	sub, err := s.SubscribeAll(ctx, 0)
	require.NoError(t, err)
	defer func() { _ = sub.Close() }()
	waitFor(t, sub, first.LastPosition)

	foreign, err := pgx.ConnectConfig(ctx, s.Pool().Config().ConnConfig.Copy())
	require.NoError(t, err)
	tx, err := foreign.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", postgres.LockKey(s))
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO es_events (position, event_id, stream_id, version, type, schema_version, data, metadata, recorded_at, hash)
		VALUES (2, gen_random_uuid(), 'ghost', 1, 'Ghost', 1, '{}', '{}', now(), decode(repeat('00', 32), 'hex'))`)
	require.NoError(t, err)

	appended := make(chan eventstore.AppendResult, 1)
	go func() {
		res, err := s.Append(ctx, "b", eventstore.NoStream(), testEvent(2))
		assert.NoError(t, err)
		appended <- res
	}()
	time.Sleep(100 * time.Millisecond) // the append is now waiting for the lock
	_, err = s.Pool().Exec(ctx, "SELECT pg_terminate_backend($1)", foreign.PgConn().PID())
	require.NoError(t, err)

	res := <-appended
	got := waitFor(t, sub, res.LastPosition)
	require.Len(t, got, 1)
	assert.Equal(t, "b", got[0].StreamID)
	assert.Equal(t, eventstore.Position(2), got[0].Position, "the ghost's position was never committed")
}

// TestUnreachable: with PostgreSQL gone, calls fail with the typed, retryable error.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	ctx := context.Background()
	cfg := s.Pool().Config().Copy()
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = "127.0.0.1", 1 // nothing listens on port 1
	cfg.ConnConfig.ConnectTimeout = 2 * time.Second
	cfg.ConnConfig.Fallbacks = nil
	dead, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer dead.Close()
	_, err = postgres.Open(ctx, dead, postgres.Config{})
	assert.ErrorIs(t, err, eventstore.ErrUnavailable)

	// A store whose database goes away after opening.
	live, err := db.Open(ctx, s.Pool().Config().ConnString(), db.Options{})
	require.NoError(t, err)
	ds, err := postgres.Open(ctx, live, postgres.Config{})
	require.NoError(t, err)
	defer ds.Close()
	live.Close()
	_, err = ds.Append(ctx, "x", eventstore.Any(), testEvent(1))
	assert.ErrorIs(t, err, eventstore.ErrUnavailable, "append: %v", err)
	_, err = ds.ReadAll(ctx, 0, 10)
	assert.ErrorIs(t, err, eventstore.ErrUnavailable, "read all: %v", err)
	var ue *eventstore.UnavailableError
	assert.True(t, errors.As(err, &ue))
}

// TestAppendOnly: the table refuses UPDATE, DELETE and TRUNCATE.
func TestAppendOnly(t *testing.T) {
	t.Parallel()
	s := mustOpen(t)
	ctx := context.Background()
	_, err := s.Append(ctx, "s", eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	for _, sql := range []string{
		`UPDATE es_events SET data = '{"n":2}'`,
		`DELETE FROM es_events`,
		`TRUNCATE es_events`,
	} {
		_, err := s.Pool().Exec(ctx, sql)
		assert.ErrorContains(t, err, "append-only", sql)
	}
}
