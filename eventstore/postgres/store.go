// Package postgres is the PostgreSQL backend of the event store (pgx/v5).
//
// # Why the global feed never skips an event
//
// A PostgreSQL sequence hands out numbers in call order, not commit order: a transaction holding
// position 101 can commit after 102 is read, and a reader that trusts "everything below 102 is
// there" skips 101 forever. This backend serializes position assignment instead (the first of
// the two techniques DESIGN.md names): every append transaction takes one transaction-scoped
// advisory lock before it reads the head, assigns positions head+1.., inserts and commits.
// PostgreSQL releases transaction locks only after the commit is visible to other sessions, so
// the next writer assigns higher positions strictly after the previous batch is visible: every
// snapshot sees a gap-free prefix of the feed, and ReadAll(after) never misses nor repeats an
// event. Positions are dense (an aborted transaction releases its numbers with its lock).
//
// Serializing is affordable because appends are group-committed: one writer goroutine per Store
// collects the appends waiting at that moment (up to a batch limit) and commits them in one
// transaction of two round trips (the lock and the state, then the insert and the commit), or
// of one when the writer knows the batch's streams and no other writer appended since its last
// batch (see known), so many concurrent appenders share one lock hold and one commit. We chose
// this over the xid8 visibility-horizon technique because it keeps the
// checkpoint a single number, is unaffected by long-running read transactions, and survives
// logical dump and restore.
package postgres

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/migrate"
	"github.com/dotmac/ledger/internal/pglisten"
)

// Config tunes a Store. Zero values take the defaults.
type Config struct {
	// MaxBatchEvents caps the events one group-commit transaction carries (default 5000).
	// A single append larger than this still goes through, alone.
	MaxBatchEvents int
	// MaxBatchAppends caps the appends one transaction carries (default 512).
	MaxBatchAppends int
	// BatchTimeout bounds one group-commit transaction (default 15 s).
	BatchTimeout time.Duration
	// SubscriptionBatch is the most events a Subscription.Next returns (default 1000).
	SubscriptionBatch int
	// QueueLength is how many appends may wait for the writer (default 4096).
	QueueLength int
	Logger      zerolog.Logger
	// OnBatch, if set, is called after every group-commit transaction (for metrics).
	OnBatch func(appends, events int, took time.Duration, err error)
}

func (c *Config) setDefaults() {
	if c.MaxBatchEvents <= 0 {
		c.MaxBatchEvents = 5000
	}
	if c.MaxBatchAppends <= 0 {
		c.MaxBatchAppends = 512
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = 15 * time.Second
	}
	if c.SubscriptionBatch <= 0 {
		c.SubscriptionBatch = 1000
	}
	if c.QueueLength <= 0 {
		c.QueueLength = 4096
	}
}

// Store is the PostgreSQL event store. Create it with Open; Close it when done.
type Store struct {
	pool    *pgxpool.Pool
	cfg     Config
	schema  string
	channel string // NOTIFY channel, per schema
	lockKey int64  // advisory lock serializing appends, per schema

	writer *writer
	hub    *pglisten.Listener
	tail   *tail // the feed's newest events, shared by the subscriptions
	known  known // what the writer knows of the feed: see known

	closeOnce sync.Once
	hooks     hooks
}

// hooks let this package's tests interfere with a transaction in flight.
type hooks struct {
	beforeCommit func(ctx context.Context, conn *pgxpool.Conn) error
}

func (s *Store) observeBatch(appends, events int, took time.Duration, err error) {
	if s.cfg.OnBatch != nil {
		s.cfg.OnBatch(appends, events, took, err)
	}
	if err != nil {
		s.cfg.Logger.Warn().Err(err).Int("appends", appends).Int("events", events).Msg("event store batch failed")
	}
}

var _ eventstore.Store = (*Store)(nil)

// MigrationSet is the event store's schema, for internal/migrate. es_events is append-only:
// the runtime role may only SELECT and INSERT it (migrate.Setup).
func MigrationSet() migrate.Set {
	s := migrate.Embedded("eventstore", "es_schema_migrations", migrationFiles)
	s.AppendOnly = []string{"es_events"}
	return s
}

// Open returns a Store over pool, whose schema must be migrated (MigrationSet). The tables
// are found through the pool's search_path.
func Open(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Store, error) {
	cfg.setDefaults()
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		return nil, classify("open", err)
	}
	s := &Store{pool: pool, cfg: cfg, schema: schema, channel: "dotmac_es." + schema, lockKey: lockKey(schema)}
	s.writer = newWriter(s)
	s.hub = pglisten.New(pool, s.channel, cfg.Logger, nil)
	s.tail = newTail(cfg.SubscriptionBatch)
	return s, nil
}

// Close stops the writer (waiting appends fail with ErrUnavailable) and the listener. It does
// not close the pool.
func (s *Store) Close() {
	s.closeOnce.Do(func() {
		s.writer.stop()
		s.hub.Stop()
	})
}

// Pool exposes the connection pool (for projections and audit that read es_events in bulk).
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Append implements eventstore.Store.
func (s *Store) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if err := eventstore.ValidateAppend(stream, events); err != nil {
		return eventstore.AppendResult{}, err
	}
	return s.writer.submit(ctx, &appendReq{stream: stream, expected: expected, events: events})
}

// Head implements eventstore.Store.
func (s *Store) Head(ctx context.Context) (eventstore.Position, error) {
	var head int64
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(position), 0) FROM es_events").Scan(&head); err != nil {
		return 0, classify("head", err)
	}
	return eventstore.Position(head), nil //nolint:gosec // positions are positive
}

func lockKey(schema string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte("dotmac.eventstore.append\x00" + schema))
	return int64(h.Sum64() >> 1) //nolint:gosec // shifted into int64 range on purpose
}

func wrapf(op string, err error) error { return fmt.Errorf("%s: %w", op, err) }
