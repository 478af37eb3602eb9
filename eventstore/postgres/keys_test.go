package postgres_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
)

// newKey returns a key of scope acme for a new command.
func newKey(key string) *eventstore.AppendKey {
	return &eventstore.AppendKey{Scope: "acme", Key: key, Hash: sha256.Sum256([]byte("request " + key)), CommandID: newID()}
}

// withKey returns another command's copy of k (same scope, key and request).
func withKey(k *eventstore.AppendKey) *eventstore.AppendKey {
	other := *k
	other.CommandID = newID()
	return &other
}

func keyedEvent(n int, k *eventstore.AppendKey) eventstore.EventData {
	e := testEvent(n)
	e.Key = k
	return e
}

// keyTrips counts, on a store's connections, the one-round-trip batches that record keys
// (and those of them that failed with a unique violation), and the key reads under the lock.
type keyTrips struct{ known, knownRefused, reads atomic.Int64 }

type keyedBatch struct{}

func (k *keyTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}

func (k *keyTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (k *keyTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	for _, q := range d.Batch.QueuedQueries {
		switch q.SQL {
		case postgres.InsertIfHeadWithKeysSQL:
			k.known.Add(1)
			return context.WithValue(ctx, keyedBatch{}, true)
		case postgres.KeysSQL:
			k.reads.Add(1)
		}
	}
	return ctx
}

func (k *keyTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (k *keyTrips) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	var pgErr *pgconn.PgError
	if ctx.Value(keyedBatch{}) != nil && errors.As(d.Err, &pgErr) && pgErr.Code == "23505" {
		k.knownRefused.Add(1)
	}
}

// keyedWriters opens two stores on one schema, as two processes would, the first with its
// key statements counted.
func keyedWriters(t *testing.T) (a, b *postgres.Store, trips *keyTrips) {
	t.Helper()
	ctx := context.Background()
	url := pgtest.SchemaURL(t)
	trips = &keyTrips{}
	return storeOn(ctx, t, url, trips, postgres.Config{}), storeOn(ctx, t, url, nil, postgres.Config{}), trips
}

func mustLookup(t *testing.T, s *postgres.Store, k *eventstore.AppendKey) eventstore.StoredKey {
	t.Helper()
	got, found, err := s.LookupKey(context.Background(), k.Scope, k.Key)
	require.NoError(t, err)
	require.True(t, found, "key %q recorded", k.Key)
	return got
}

// requireTaken checks err is a KeyTakenError of stream naming k as held by holder.
func requireTaken(t *testing.T, err error, stream string, k, holder *eventstore.AppendKey) eventstore.StoredKey {
	t.Helper()
	require.ErrorIs(t, err, eventstore.ErrKeyTaken)
	var taken *eventstore.KeyTakenError
	require.ErrorAs(t, err, &taken)
	assert.Equal(t, stream, taken.Stream)
	got, ok := taken.Holder(k.Scope, k.Key)
	require.True(t, ok, "the error names key %q: %v", k.Key, err)
	assert.Equal(t, holder.CommandID, got.CommandID, "the holder's command")
	assert.Equal(t, holder.Hash, got.Hash)
	return got
}

// requireStream checks stream has n events, chained (none: not found).
func requireStream(t *testing.T, s *postgres.Store, stream string, n int) {
	t.Helper()
	if n > 0 {
		requireChain(t, s, stream, n)
		return
	}
	_, err := s.ReadStream(context.Background(), stream, 1, eventstore.Forwards, 10)
	require.ErrorIs(t, err, eventstore.ErrStreamNotFound, "stream %s has no event", stream)
}

func countKeys(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(context.Background(), `SELECT count(*) FROM es_append_keys`).Scan(&n))
	return n
}

// TestKeyRecordedWithItsEvents: each key an append carries is recorded at the event carrying
// it (a second command's key in the same append at its own event), with the batch's time.
func TestKeyRecordedWithItsEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	first, second := newKey("k-1"), newKey("k-2")
	res, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, first), testEvent(2), keyedEvent(3, second))
	require.NoError(t, err)
	envs, err := s.ReadStream(ctx, "acme/customer-1", 1, eventstore.Forwards, 10)
	require.NoError(t, err)
	require.Len(t, envs, 3)

	got := mustLookup(t, s, first)
	assert.Equal(t, *first, got.AppendKey)
	assert.Equal(t, "acme/customer-1", got.Stream)
	assert.Equal(t, uint64(1), got.Version)
	assert.Equal(t, res.FirstPosition, got.Position)
	assert.Nil(t, got.Answer)
	assert.True(t, envs[0].Metadata.RecordedAt.Equal(got.RecordedAt), "the batch's time")

	got = mustLookup(t, s, second)
	assert.Equal(t, *second, got.AppendKey)
	assert.Equal(t, uint64(3), got.Version)
	assert.Equal(t, res.LastPosition, got.Position)

	_, found, err := s.LookupKey(ctx, "acme", "k-unknown")
	require.NoError(t, err)
	assert.False(t, found)
	_, found, err = s.LookupKey(ctx, "other", "k-1")
	require.NoError(t, err)
	assert.False(t, found, "keys are per scope")
}

// TestKeyTakenByAnotherCommand: an append carrying a key another command recorded stores
// nothing (not even its other, new key) and names the holder, whether the writer reads the
// keys first (a stream it does not know) or checks them in its one round trip (a known one,
// which then falls back to reading them).
func TestKeyTakenByAnotherCommand(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, trips := keyedWriters(t)
	k := newKey("k-1")
	held, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, k))
	require.NoError(t, err)
	_, err = s.Append(ctx, "acme/customer-2", eventstore.NoStream(), testEvent(2))
	require.NoError(t, err)
	reads := trips.reads.Load()

	for _, tc := range []struct {
		name, stream string
		expected     eventstore.ExpectedVersion
		version      uint64
	}{
		{"stream not known: two round trips", "acme/customer-3", eventstore.NoStream(), 0},
		{"known stream: one round trip, then two", "acme/customer-2", eventstore.Exact(1), 1},
	} {
		head, err := s.Head(ctx)
		require.NoError(t, err)
		fresh := newKey("k-new-" + tc.stream)
		_, err = s.Append(ctx, tc.stream, tc.expected, keyedEvent(3, fresh), keyedEvent(4, withKey(k)))
		got := requireTaken(t, err, tc.stream, k, k)
		assert.Equal(t, "acme/customer-1", got.Stream, tc.name)
		assert.Equal(t, held.FirstPosition, got.Position, tc.name)
		var taken *eventstore.KeyTakenError
		require.ErrorAs(t, err, &taken)
		assert.Len(t, taken.Taken, 1, "only the key held by another command")

		after, err := s.Head(ctx)
		require.NoError(t, err)
		assert.Equal(t, head, after, "%s: no event stored", tc.name)
		requireStream(t, s, tc.stream, int(tc.version))
		_, found, err := s.LookupKey(ctx, fresh.Scope, fresh.Key)
		require.NoError(t, err)
		assert.False(t, found, "%s: the append's other key is not recorded", tc.name)
	}
	assert.Equal(t, int64(1), trips.known.Load(), "one one-round-trip try")
	assert.Equal(t, int64(1), trips.knownRefused.Load(), "refused by the keys' insert")
	assert.Equal(t, reads+2, trips.reads.Load(), "the keys read under the lock, once per append")
}

// TestKeySameCommandOnSeveralStreams: a command appending to several streams, each append
// carrying its key, goes through on each (across batches and within one), and its key is
// recorded once, at its first event.
func TestKeySameCommandOnSeveralStreams(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	s, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer s.Close()
	k := newKey("k-1")
	first, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, k))
	require.NoError(t, err)
	_, err = s.Append(ctx, "acme/invoice-1", eventstore.NoStream(), keyedEvent(2, k))
	require.NoError(t, err, "another stream, the same command")
	_, err = s.Append(ctx, "acme/customer-1", eventstore.Exact(1), keyedEvent(3, k))
	require.NoError(t, err, "the same stream again, known to the writer: one round trip")

	k2 := newKey("k-2")
	out := s.AppendStreams(ctx, []eventstore.StreamAppend{
		{Stream: "acme/customer-2", Expected: eventstore.NoStream(), Events: []eventstore.EventData{keyedEvent(4, k2)}},
		{Stream: "acme/invoice-2", Expected: eventstore.NoStream(), Events: []eventstore.EventData{keyedEvent(5, k2)}},
	})
	for _, o := range out {
		require.NoError(t, o.Err)
	}
	assert.Equal(t, 2, countKeys(t, pool))
	got := mustLookup(t, s, k)
	assert.Equal(t, "acme/customer-1", got.Stream)
	assert.Equal(t, first.FirstPosition, got.Position)
	got = mustLookup(t, s, k2)
	assert.Equal(t, "acme/customer-2", got.Stream)
	assert.Equal(t, out[0].Result.FirstPosition, got.Position)
}

// TestStaleOneTripRecordsNoKey: a writer's one round trip with a stale head inserts no event
// and commits: its keys must not be recorded either. The append, read again, is refused (its
// stream moved), and its key stays free.
func TestStaleOneTripRecordsNoKey(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b, trips := keyedWriters(t)
	const s = "acme/customer-1"
	_, err := a.Append(ctx, s, eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)
	_, err = b.Append(ctx, s, eventstore.Exact(1), testEvent(2))
	require.NoError(t, err)

	k := newKey("k-1")
	_, err = a.Append(ctx, s, eventstore.Exact(1), keyedEvent(3, k))
	var wrong *eventstore.WrongExpectedVersionError
	require.ErrorAs(t, err, &wrong, "a's stale head said version 1")
	assert.Equal(t, int64(1), trips.known.Load(), "tried in one round trip")
	assert.Zero(t, trips.knownRefused.Load(), "which inserted nothing and committed")
	_, found, err := a.LookupKey(ctx, k.Scope, k.Key)
	require.NoError(t, err)
	assert.False(t, found, "no key without its event")

	res, err := a.Append(ctx, s, eventstore.Exact(2), keyedEvent(4, k))
	require.NoError(t, err, "the key is free")
	assert.Equal(t, res.FirstPosition, mustLookup(t, a, k).Position)
}

// TestKeyedRetryIsDuplicate: the retry of a keyed append stored already (same event ids) is
// answered as the duplicate it is, whatever key it carries, through either path.
func TestKeyedRetryIsDuplicate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	k := newKey("k-1")
	events := []eventstore.EventData{keyedEvent(1, k), testEvent(2)}
	orig, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), events...)
	require.NoError(t, err)
	for _, tc := range []struct {
		name     string
		expected eventstore.ExpectedVersion
		key      *eventstore.AppendKey
	}{
		{"refused version: read", eventstore.NoStream(), k},
		{"passing version: the insert meets its ids", eventstore.Any(), k},
		{"another command's key", eventstore.NoStream(), withKey(k)},
	} {
		again := []eventstore.EventData{events[0], events[1]}
		again[0].Key = tc.key
		res, err := s.Append(ctx, "acme/customer-1", tc.expected, again...)
		require.NoError(t, err, tc.name)
		assert.True(t, res.Duplicate, tc.name)
		assert.Equal(t, orig.FirstPosition, res.FirstPosition, tc.name)
		assert.Equal(t, orig.LastPosition, res.LastPosition, tc.name)
	}
	assert.Equal(t, k.CommandID, mustLookup(t, s, k).CommandID)
	requireChain(t, s, "acme/customer-1", 2)
}

// TestAppendStreamsWithKeys: within one AppendStreams call, an append carrying a key another
// command holds fails alone; of two appends of different commands with one new key, the
// first wins and the second, carried to the next batch, finds it recorded.
func TestAppendStreamsWithKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	held := newKey("k-held")
	_, err := s.Append(ctx, "acme/customer-0", eventstore.NoStream(), keyedEvent(0, held))
	require.NoError(t, err)
	mine, shared := newKey("k-mine"), newKey("k-shared")
	rival := withKey(shared)
	one := func(stream string, n int, k *eventstore.AppendKey) eventstore.StreamAppend {
		return eventstore.StreamAppend{Stream: stream, Expected: eventstore.NoStream(), Events: []eventstore.EventData{keyedEvent(n, k)}}
	}
	out := s.AppendStreams(ctx, []eventstore.StreamAppend{
		one("acme/customer-1", 1, mine),
		one("acme/customer-2", 2, withKey(held)),
		{Stream: "acme/customer-3", Expected: eventstore.NoStream(), Events: []eventstore.EventData{testEvent(3)}},
		one("acme/customer-4", 4, shared),
		one("acme/customer-5", 5, rival),
		one("acme/customer-6", 6, mine),
	})
	require.NoError(t, out[0].Err)
	requireTaken(t, out[1].Err, "acme/customer-2", held, held)
	require.NoError(t, out[2].Err)
	require.NoError(t, out[3].Err)
	got := requireTaken(t, out[4].Err, "acme/customer-5", rival, shared)
	assert.Equal(t, out[3].Result.FirstPosition, got.Position)
	require.NoError(t, out[5].Err, "the same command's key again")
	requireStream(t, s, "acme/customer-2", 0)
	requireStream(t, s, "acme/customer-5", 0)
	assert.Equal(t, out[0].Result.FirstPosition, mustLookup(t, s, mine).Position)
}

// TestRecordKeyAlone: a key recorded alone holds it with its answer: recording it again (by
// any command) returns it unchanged, and an append carrying it for another command is
// refused, naming the answer, also when the writer tries it in one round trip (the head has
// not moved: the check refuses it).
func TestRecordKeyAlone(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, _, trips := keyedWriters(t)
	const stream = "acme/customer-1"
	_, err := s.Append(ctx, stream, eventstore.NoStream(), testEvent(1))
	require.NoError(t, err)

	k, answer := newKey("k-1"), []byte(`{"status":422}`)
	got, recorded, err := s.RecordKey(ctx, *k, answer)
	require.NoError(t, err)
	assert.True(t, recorded)
	assert.Equal(t, *k, got.AppendKey)
	assert.Equal(t, answer, got.Answer)
	assert.Empty(t, got.Stream)
	assert.Zero(t, got.Position)
	for _, again := range []*eventstore.AppendKey{k, withKey(k)} {
		got2, recorded, err := s.RecordKey(ctx, *again, []byte(`{}`))
		require.NoError(t, err)
		assert.False(t, recorded)
		assert.Equal(t, got, got2, "the key as first recorded")
	}

	_, err = s.Append(ctx, stream, eventstore.Exact(1), keyedEvent(2, withKey(k)))
	got = requireTaken(t, err, stream, k, k)
	assert.Equal(t, answer, got.Answer)
	assert.Equal(t, int64(1), trips.knownRefused.Load(), "refused in the one round trip, then read")
	requireChain(t, s, stream, 1)

	_, _, err = s.RecordKey(ctx, eventstore.AppendKey{Scope: "acme", Key: "k-2"}, nil)
	require.ErrorIs(t, err, eventstore.ErrInvalidInput, "no command id")
}

// TestRecordKeyAfterAppend: recording alone a key another command appended returns the append's; the
// command that appended it may give it its answer, once.
func TestRecordKeyAfterAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	k := newKey("k-1")
	res, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, k))
	require.NoError(t, err)
	got, recorded, err := s.RecordKey(ctx, *withKey(k), []byte(`{"status":200}`))
	require.NoError(t, err)
	assert.False(t, recorded)
	assert.Equal(t, *k, got.AppendKey)
	assert.Equal(t, "acme/customer-1", got.Stream)
	assert.Equal(t, res.FirstPosition, got.Position)
	assert.Nil(t, got.Answer)

	// The command that recorded the key gives it its answer, once; the place stays.
	answered, recorded, err := s.RecordKey(ctx, *k, []byte(`{"status":201}`))
	require.NoError(t, err)
	assert.True(t, recorded)
	assert.Equal(t, []byte(`{"status":201}`), answered.Answer)
	assert.Equal(t, res.FirstPosition, answered.Position)
	again, recorded, err := s.RecordKey(ctx, *k, []byte(`{"status":500}`))
	require.NoError(t, err)
	assert.False(t, recorded)
	assert.Equal(t, []byte(`{"status":201}`), again.Answer, "an answer is never replaced")
	other := *k
	other.Hash[0]++
	differs, recorded, err := s.RecordKey(ctx, other, []byte(`{}`))
	require.NoError(t, err)
	assert.False(t, recorded, "another request of the same command id does not answer it")
	assert.Equal(t, []byte(`{"status":201}`), differs.Answer)
}

// TestRecordKeyWhileAppending: a key recorded alone after the writer read the keys under the
// lock and before it writes (RecordKey does not take the lock) makes the write fail; the
// writer reads again and refuses the append, naming the key recorded alone.
func TestRecordKeyWhileAppending(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := mustOpen(t)
	k, rival := newKey("k-1"), newKey("k-1")
	var once atomic.Bool
	postgres.SetBeforeCommitHook(s, func(ctx context.Context, _ *pgxpool.Conn) error {
		if once.CompareAndSwap(false, true) {
			_, recorded, err := s.RecordKey(ctx, *rival, []byte(`{}`))
			if err == nil && !recorded {
				err = errors.New("the rival's key was recorded already")
			}
			return err
		}
		return nil
	})
	_, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, k))
	requireTaken(t, err, "acme/customer-1", k, rival)
	requireStream(t, s, "acme/customer-1", 0)
	res, err := s.Append(ctx, "acme/customer-1", eventstore.NoStream(), testEvent(2))
	require.NoError(t, err, "the writer carries on")
	assert.Equal(t, eventstore.Position(1), res.FirstPosition)
}

// TestPurgeKeys: PurgeKeys deletes the keys recorded before its time, oldest first, up to its
// limit (over several statements when the limit is larger than one's).
func TestPurgeKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet())
	s, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	defer s.Close()
	_, err = pool.Exec(ctx, `INSERT INTO es_append_keys (scope, key, request_hash, command_id, recorded_at)
		SELECT 'old', 'k-' || g, sha256(g::text::bytea), gen_random_uuid(), now() - interval '1 day' + g * interval '1 second'
		FROM generate_series(1, 2500) g`)
	require.NoError(t, err)
	var keys []*eventstore.AppendKey
	for i := range 4 {
		keys = append(keys, newKey("k-"+itoa(i)))
		if i%2 == 0 {
			_, _, err = s.RecordKey(ctx, *keys[i], []byte(`{}`))
		} else {
			_, err = s.Append(ctx, "acme/customer-"+itoa(i), eventstore.NoStream(), keyedEvent(i, keys[i]))
		}
		require.NoError(t, err)
		time.Sleep(2 * time.Millisecond)
	}
	cut := time.Now()
	time.Sleep(2 * time.Millisecond)
	late := newKey("k-late")
	_, _, err = s.RecordKey(ctx, *late, nil)
	require.NoError(t, err)

	n, err := s.PurgeKeys(ctx, cut, 2100)
	require.NoError(t, err)
	assert.Equal(t, int64(2100), n)
	var oldest int
	require.NoError(t, pool.QueryRow(ctx, `SELECT min(substr(key, 3)::int) FROM es_append_keys WHERE scope = 'old'`).Scan(&oldest))
	assert.Equal(t, 2101, oldest, "oldest first")

	n, err = s.PurgeKeys(ctx, cut, 402)
	require.NoError(t, err)
	assert.Equal(t, int64(402), n)
	_, found, err := s.LookupKey(ctx, "acme", keys[1].Key)
	require.NoError(t, err)
	assert.False(t, found, "the two oldest of this test's keys went with the rest")
	mustLookup(t, s, keys[2])

	n, err = s.PurgeKeys(ctx, cut, 100)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, 1, countKeys(t, pool))
	mustLookup(t, s, late)

	_, err = s.PurgeKeys(ctx, cut, 0)
	require.ErrorIs(t, err, eventstore.ErrInvalidInput)
}

// TestKeysAsTheRuntimeRole: the runtime role records, checks, reads and purges keys (the
// check's function included: a known stream's append refused in its one round trip).
func TestKeysAsTheRuntimeRole(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := postgres.Open(ctx, runtimePool(t), postgres.Config{})
	require.NoError(t, err)
	defer s.Close()
	k := newKey("k-1")
	_, err = s.Append(ctx, "acme/customer-1", eventstore.NoStream(), keyedEvent(1, k))
	require.NoError(t, err)
	_, err = s.Append(ctx, "acme/customer-1", eventstore.Exact(1), keyedEvent(2, withKey(k)))
	requireTaken(t, err, "acme/customer-1", k, k)
	_, recorded, err := s.RecordKey(ctx, *newKey("k-2"), []byte(`{}`))
	require.NoError(t, err)
	assert.True(t, recorded)
	n, err := s.PurgeKeys(ctx, time.Now().Add(time.Second), 10)
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}
