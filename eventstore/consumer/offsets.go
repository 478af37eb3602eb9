package consumer

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

// OffsetsConfig tunes Offsets. Zero values take the defaults.
type OffsetsConfig struct {
	// FlushEvery: Save writes at most this often (and Flush writes what is pending). The
	// subscriber saves after every ack, and a statement per event bounds a group to a few
	// thousand events per second while it skips the many events it does not handle; a
	// crash then redelivers up to FlushEvery of acks (default 0: every Save writes).
	FlushEvery time.Duration
	// Start, if set, is where a group without a stored offset starts (default 0, the
	// beginning of the feed); that start is stored at once.
	Start func(ctx context.Context, group string) (eventstore.Position, error)
	// Now is the clock of FlushEvery (default time.Now).
	Now func() time.Time
}

// Offsets is the Watermill consumer-group offset store (esw.OffsetStore) over
// feed_checkpoints: a group's offset of topic $all is the row named after the group
// (group/topic for another topic). It is safe for concurrent use.
type Offsets struct {
	pool *pgxpool.Pool
	cfg  OffsetsConfig

	mu      sync.Mutex
	pending map[string]eventstore.Position
	flushed time.Time
}

var _ esw.OffsetStore = (*Offsets)(nil)

// NewOffsets returns the offsets in the table pool's search_path finds.
func NewOffsets(pool *pgxpool.Pool, cfg OffsetsConfig) *Offsets {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Offsets{pool: pool, cfg: cfg, pending: map[string]eventstore.Position{}}
}

// OffsetName is the feed_checkpoints row of group's offset of topic.
func OffsetName(group, topic string) string {
	if topic == esw.TopicAll {
		return group
	}
	return group + "/" + topic
}

// Load implements esw.OffsetStore.
func (o *Offsets) Load(ctx context.Context, group, topic string) (eventstore.Position, error) {
	var pos *int64
	err := o.pool.QueryRow(ctx, `SELECT position FROM feed_checkpoints WHERE consumer = $1`, OffsetName(group, topic)).Scan(&pos)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("load the offset of %s: %w", group, err)
	}
	if pos != nil {
		return eventstore.Position(*pos), nil //nolint:gosec // checked non-negative by the table
	}
	var start eventstore.Position
	if o.cfg.Start != nil {
		if start, err = o.cfg.Start(ctx, group); err != nil {
			return 0, fmt.Errorf("start %s: %w", group, err)
		}
	}
	if err := o.write(ctx, OffsetName(group, topic), start); err != nil {
		return 0, err
	}
	return start, nil
}

// Save implements esw.OffsetStore: it records pos and writes it when the last write is older
// than FlushEvery.
func (o *Offsets) Save(ctx context.Context, group, topic string, pos eventstore.Position) error {
	o.mu.Lock()
	name := OffsetName(group, topic)
	if pos > o.pending[name] {
		o.pending[name] = pos
	}
	due := o.cfg.Now().Sub(o.flushed) >= o.cfg.FlushEvery
	o.mu.Unlock()
	if !due {
		return nil
	}
	return o.Flush(ctx)
}

// Flush writes every pending offset. An offset whose write fails stays pending (unless a
// later one was saved meanwhile), so the next flush writes it.
func (o *Offsets) Flush(ctx context.Context) error {
	o.mu.Lock()
	pending := o.pending
	o.pending = map[string]eventstore.Position{}
	o.flushed = o.cfg.Now()
	o.mu.Unlock()
	var errs []error
	for name, pos := range pending {
		if err := o.write(ctx, name, pos); err != nil {
			errs = append(errs, err)
			o.mu.Lock()
			if pos > o.pending[name] {
				o.pending[name] = pos
			}
			o.mu.Unlock()
		}
	}
	return errors.Join(errs...)
}

// write stores pos as name's offset unless a later one is stored.
func (o *Offsets) write(ctx context.Context, name string, pos eventstore.Position) error {
	_, err := o.pool.Exec(ctx, `INSERT INTO feed_checkpoints AS f (consumer, position) VALUES ($1, $2)
ON CONFLICT (consumer) DO UPDATE SET position = greatest(f.position, excluded.position), updated_at = now()`,
		name, int64(pos)) //nolint:gosec // positions fit
	if err != nil {
		return fmt.Errorf("save the offset of %s: %w", name, err)
	}
	return nil
}
