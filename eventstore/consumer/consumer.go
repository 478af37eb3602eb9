// Package consumer is the one checkpointed consumer of the event store's global feed: the
// projections, the command side's billing index and the process managers all read the feed
// through it, with their places in one table (feed_checkpoints, MigrationSet) and one way to
// make sure a single process runs each of them (Lease).
//
// A consumer applies the feed to PostgreSQL tables with a Handler. CatchUp reads the feed
// from the consumer's checkpoint to the head a page at a time; each page is applied and the
// checkpoint advanced in one transaction that holds the checkpoint row's lock, so a crash
// never applies an event twice nor skips one, and processes catching up at once take turns.
// Live keeps a consumer applied as events commit, in the one process that holds its lease.
//
// Consumers that manage their own transactions (the projection runtime's replays) use the
// same rows through TableIn's statements; Watermill consumer groups (the process managers)
// keep their offsets in the same table (NewOffsets) and deliver only in the process holding
// the group's lease (NewLeasedSubscriber).
package consumer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultPageEvents is how many events one catch-up transaction applies by default.
const DefaultPageEvents = 2000

// ErrHandlerPanic: the handler panicked; the transaction was rolled back.
var ErrHandlerPanic = errors.New("feed consumer: handler panicked")

// Handler applies events (in feed order, all after the consumer's checkpoint) in tx; the
// consumer advances its checkpoint in the same transaction. An error or a panic rolls back
// the events and the checkpoint together.
type Handler func(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) error

// Config tunes a Consumer. Zero values take the defaults.
type Config struct {
	// PageEvents is the most events one transaction applies (default DefaultPageEvents, at
	// most eventstore.MaxReadLimit).
	PageEvents int
	// Lease tunes the consumer's lease (Live).
	Lease LeaseConfig
	// RetryDelay is the pause before Live tries a failed batch again (default 1 s).
	RetryDelay time.Duration
	// Linger is how long Live's subscription lets the feed's events gather after a read
	// that did not fill a page (eventstore/watermill.SubscriberConfig.Linger): on a busy
	// feed Live then runs at most about one transaction per Linger, not one per append.
	// Default 0: each batch is applied as soon as the previous one is.
	Linger time.Duration
	// Types, when set, are the only event types the handler changes anything for. A page of
	// CatchUp holding none of them only moves the checkpoint, and the consumer then moves it
	// in one statement (from the position this process last took it to, if it is still
	// there) instead of a transaction holding the row's lock: a billing index on a feed of
	// payments costs one round trip a catch-up, not four.
	Types  []string
	Logger zerolog.Logger
}

func (c *Config) setDefaults() {
	if c.PageEvents <= 0 {
		c.PageEvents = DefaultPageEvents
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = time.Second
	}
}

// Validate reports a configuration that cannot work.
func (c *Config) Validate() error {
	if c.PageEvents > eventstore.MaxReadLimit {
		return fmt.Errorf("feed consumer: PageEvents %d is over %d", c.PageEvents, eventstore.MaxReadLimit)
	}
	return nil
}

// Consumer applies the global feed to PostgreSQL with a Handler, its checkpoint in the row
// feed_checkpoints[name]. It is safe for concurrent use.
type Consumer struct {
	pool    *pgxpool.Pool
	store   eventstore.Store
	name    string
	handler Handler
	cfg     Config
	table   Table
	lease   *Lease

	mu      sync.Mutex // one catch-up at a time in this process (the row's lock serializes processes)
	ensured atomic.Bool
	// reached is a position a catch-up of this process took the checkpoint to: Advance never
	// moves a checkpoint back, so the checkpoint is at or past it (CatchUpTo). Table.Reset,
	// which does, is for the rows of projection builds, which no Consumer reads through.
	reached atomic.Uint64
}

// New returns the consumer name over pool (whose search_path finds feed_checkpoints,
// MigrationSet) and store.
func New(pool *pgxpool.Pool, store eventstore.Store, name string, handler Handler, cfg Config) (*Consumer, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if name == "" || handler == nil {
		return nil, errors.New("invariant: a feed consumer needs a name and a handler")
	}
	return &Consumer{pool: pool, store: store, name: name, handler: handler, cfg: cfg, table: TableIn(""),
		lease: NewLease(pool, name, cfg.Lease)}, nil
}

// Name is the consumer's row in feed_checkpoints.
func (c *Consumer) Name() string { return c.name }

// Lease is the consumer's lease (held by Live).
func (c *Consumer) Lease() *Lease { return c.lease }

// Position returns the position of the last event the consumer applied (0: none).
func (c *Consumer) Position(ctx context.Context) (eventstore.Position, error) {
	var pos int64
	var at *time.Time
	err := c.pool.QueryRow(ctx, c.table.Read, c.name).Scan(&pos, &at)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("feed consumer %s: position: %w", c.name, err)
	}
	return eventstore.Position(pos), nil //nolint:gosec // checked non-negative by the table
}

// CatchUp applies every event of the feed up to the head it sees when it starts, a page per
// transaction.
func (c *Consumer) CatchUp(ctx context.Context) error { return c.CatchUpTo(ctx, 0) }

// CatchUpTo is CatchUp for a caller that needs the events up to pos applied, not every event
// appended since: it returns at once when a catch-up of this process (its own or one it waited
// for) has already taken the checkpoint to pos or past it, and catches up to the head
// otherwise. pos 0 always catches up. A reader deciding on the state as of an event it was
// handed (a process manager's trigger) needs no more, and under a steady stream of appends
// most such reads then cost nothing.
func (c *Consumer) CatchUpTo(ctx context.Context, pos eventstore.Position) error {
	if pos > 0 && c.Reached() >= pos {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if pos > 0 && c.Reached() >= pos {
		return nil // the catch-up this one waited for reached it
	}
	head, err := c.store.Head(ctx)
	if err != nil {
		return fmt.Errorf("feed consumer %s: %w", c.name, err)
	}
	if err := c.ensure(ctx); err != nil {
		return err
	}
	for from := c.Reached(); ; {
		at, err := c.page(ctx, from)
		if err != nil {
			return err
		}
		if at >= head {
			c.noteReached(at)
			return nil
		}
		from = at
	}
}

// Reached is the highest position a catch-up of this process took the checkpoint to (0: none
// yet): the checkpoint is at or past it.
func (c *Consumer) Reached() eventstore.Position { return eventstore.Position(c.reached.Load()) }

// noteReached records that the checkpoint is at or past pos.
func (c *Consumer) noteReached(pos eventstore.Position) {
	for {
		old := c.reached.Load()
		if uint64(pos) <= old || c.reached.CompareAndSwap(old, uint64(pos)) {
			return
		}
	}
}

func (c *Consumer) ensure(ctx context.Context) error {
	if c.ensured.Load() {
		return nil
	}
	if _, err := c.pool.Exec(ctx, c.table.Ensure, c.name); err != nil {
		return fmt.Errorf("feed consumer %s: %w", c.name, err)
	}
	c.ensured.Store(true)
	return nil
}

// page applies one page after the checkpoint, in one transaction with the checkpoint, and
// returns the new checkpoint. from is where this process last took the checkpoint (0: not
// known): a page after it that the handler has nothing to do with is skipped (skip).
func (c *Consumer) page(ctx context.Context, from eventstore.Position) (eventstore.Position, error) {
	read, skipped, err := c.skip(ctx, from)
	if err != nil {
		return from, fmt.Errorf("feed consumer %s: %w", c.name, err)
	}
	if skipped {
		return read[len(read)-1].Position, nil
	}
	var at eventstore.Position
	err = pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		pos, _, err := c.lock(ctx, tx)
		if err != nil {
			return err
		}
		at = pos
		envs := read
		if pos != from || len(envs) == 0 { // what skip read is not the page after the checkpoint
			if envs, err = c.store.ReadAll(ctx, at, c.cfg.PageEvents); err != nil {
				return err
			}
		}
		if len(envs) == 0 {
			return nil
		}
		if err := c.apply(ctx, tx, envs); err != nil {
			return err
		}
		at = envs[len(envs)-1].Position
		return nil
	})
	if err != nil {
		return at, fmt.Errorf("feed consumer %s: %w", c.name, err)
	}
	return at, nil
}

// skip moves the checkpoint from from past the page after it in one statement when the page
// holds none of Config.Types, so the handler would change nothing: the statement moves it
// only while it is still at from, so a page another process applied meanwhile, or one this
// process did not read, is never skipped. It returns the page it read (nil: none) and whether
// it skipped it; when it did not (no Types, from unknown, a page with work for the handler,
// the checkpoint moved) the caller applies the page in a transaction, with what skip read if
// the checkpoint is still at from.
func (c *Consumer) skip(ctx context.Context, from eventstore.Position) (page []eventstore.Envelope, skipped bool, err error) {
	if len(c.cfg.Types) == 0 || from == 0 {
		return nil, false, nil
	}
	envs, err := c.store.ReadAll(ctx, from, c.cfg.PageEvents)
	if err != nil || len(envs) == 0 {
		return nil, false, err
	}
	for i := range envs {
		if slices.Contains(c.cfg.Types, envs[i].Type) {
			return envs, false, nil
		}
	}
	last := &envs[len(envs)-1]
	tag, err := c.pool.Exec(ctx, c.table.Skip, c.name, int64(from), int64(last.Position), last.RecordedAt()) //nolint:gosec // positions fit
	if err != nil {
		return nil, false, err
	}
	return envs, tag.RowsAffected() == 1, nil
}

// lock takes the checkpoint row's lock and returns the checkpoint and the lease holder.
func (c *Consumer) lock(ctx context.Context, tx pgx.Tx) (eventstore.Position, string, error) {
	var pos int64
	var at *time.Time
	var holder *string
	if err := tx.QueryRow(ctx, c.table.Lock, c.name).Scan(&pos, &at, &holder); err != nil {
		return 0, "", fmt.Errorf("lock the checkpoint: %w", err)
	}
	h := ""
	if holder != nil {
		h = *holder
	}
	return eventstore.Position(pos), h, nil //nolint:gosec // checked non-negative by the table
}

// apply runs the handler on envs (a panic becomes ErrHandlerPanic) and advances the checkpoint
// to the last of them.
func (c *Consumer) apply(ctx context.Context, tx pgx.Tx, envs []eventstore.Envelope) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %v", ErrHandlerPanic, r)
		}
	}()
	if err := c.handler(ctx, tx, envs); err != nil {
		return err
	}
	last := &envs[len(envs)-1]
	_, err = tx.Exec(ctx, c.table.Advance, c.name, int64(last.Position), last.RecordedAt()) //nolint:gosec // positions fit
	return err
}

// Apply applies the events of envs after the consumer's checkpoint (those at or before it
// were applied already) in one transaction with the checkpoint. envs must follow the
// checkpoint without a gap: the live feed's next events.
func (c *Consumer) Apply(ctx context.Context, envs []eventstore.Envelope) error {
	return c.applyAs(ctx, envs, "")
}

// applyAs is Apply that, with a holder, applies only while holder has the lease (else
// ErrLeaseLost): a process whose lease ran out stops at its next transaction.
func (c *Consumer) applyAs(ctx context.Context, envs []eventstore.Envelope, holder string) error {
	if err := c.ensure(ctx); err != nil {
		return err
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		pos, h, err := c.lock(ctx, tx)
		if err != nil {
			return err
		}
		if holder != "" && h != holder {
			return ErrLeaseLost
		}
		for len(envs) > 0 && envs[0].Position <= pos {
			envs = envs[1:]
		}
		if len(envs) == 0 {
			return nil
		}
		return c.apply(ctx, tx, envs)
	})
	if err != nil {
		return fmt.Errorf("feed consumer %s: %w", c.name, err)
	}
	return nil
}
