package process

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
	esw "github.com/dotmac/ledger/eventstore/watermill"
)

// offsetFlushEvery bounds how often a consumer group's offset is written.
const offsetFlushEvery = 500 * time.Millisecond

// groupOffsets keeps a process manager's consumer-group offset in the wm_offsets table of
// eventstore/watermill (PostgresOffsets), with two differences:
//
//   - Save writes at most every offsetFlushEvery (and on flush): the subscriber saves after
//     every ack, and one statement per event would bound a manager to a few thousand events
//     per second while it skips the many events it does not handle. Redelivery after a crash
//     grows to the last offsetFlushEvery of acks, which the managers' exactly-once commands
//     absorb like any redelivery.
//   - A group without a stored offset starts at fromHead's position when fromHead is set
//     (dunning: its scheduler sweep covers what came before), else at the beginning of the
//     feed (billing: an unfinished run of any age must be found). That start is stored at once.
type groupOffsets struct {
	pool     *pgxpool.Pool
	inner    *esw.PostgresOffsets
	store    eventstore.Store
	fromHead bool

	mu      sync.Mutex
	pending map[[2]string]eventstore.Position
	flushed time.Time
}

var _ esw.OffsetStore = (*groupOffsets)(nil)

func newGroupOffsets(pool *pgxpool.Pool, store eventstore.Store, fromHead bool) *groupOffsets {
	return &groupOffsets{pool: pool, inner: esw.NewPostgresOffsets(pool), store: store, fromHead: fromHead,
		pending: map[[2]string]eventstore.Position{}}
}

// Load implements esw.OffsetStore.
func (o *groupOffsets) Load(ctx context.Context, group, topic string) (eventstore.Position, error) {
	var pos int64
	err := o.pool.QueryRow(ctx, `SELECT position FROM wm_offsets WHERE consumer_group = $1 AND topic = $2`, group, topic).Scan(&pos)
	if err == nil {
		return eventstore.Position(pos), nil //nolint:gosec // checked non-negative by the table
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("load offset of %s: %w", group, err)
	}
	var start eventstore.Position
	if o.fromHead {
		if start, err = o.store.Head(ctx); err != nil {
			return 0, fmt.Errorf("start %s at the head: %w", group, err)
		}
	}
	if err := o.inner.Save(ctx, group, topic, start); err != nil {
		return 0, err
	}
	return start, nil
}

// Save implements esw.OffsetStore: it records pos and writes it when the last write is older
// than offsetFlushEvery.
func (o *groupOffsets) Save(ctx context.Context, group, topic string, pos eventstore.Position) error {
	o.mu.Lock()
	o.pending[[2]string{group, topic}] = pos
	due := time.Since(o.flushed) >= offsetFlushEvery
	o.mu.Unlock()
	if !due {
		return nil
	}
	return o.flush(ctx)
}

// flush writes every pending offset.
func (o *groupOffsets) flush(ctx context.Context) error {
	o.mu.Lock()
	pending := o.pending
	o.pending = map[[2]string]eventstore.Position{}
	o.flushed = time.Now()
	o.mu.Unlock()
	var errs []error
	for k, pos := range pending {
		if err := o.inner.Save(ctx, k[0], k[1], pos); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
