package projections

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// DefaultStandbyPoll is Options.StandbyPoll's default.
const DefaultStandbyPoll = 50 * time.Millisecond

// liveRow is what one read of a projection's live build tells a waiter: its checkpoint,
// whether the projection is stalled as a whole, and a digest of its tenant stalls (it changes
// whenever a stall is recorded, retried or cleared).
type liveRow struct {
	checkpoint eventstore.Position
	parts      []eventstore.Position // each partition's checkpoint, of a partitioned build
	stalled    bool
	stalls     string
}

// liveRows reads every projection's live build in one query (the poller's whole cost per
// interval; Checkpoints'). Projections without a live build are absent.
func (r *Runtime) liveRows(ctx context.Context) (map[string]liveRow, error) {
	rows, err := r.pool.Query(ctx, `SELECT r.name, coalesce(f.position, 0), CASE WHEN b.partitions > 1 THEN coalesce(f.positions, '{}') END, r.state = 'stalled',
coalesce((SELECT md5(string_agg(s.tenant || ':' || s.position || ':' || s.retries, ',' ORDER BY s.tenant)) FROM `+r.sqls.stalls+` s
 WHERE s.build = r.live_build), '')
FROM `+r.sqls.registry+` r JOIN `+r.sqls.builds+` b ON b.schema_name = r.live_build`+r.sqls.checkpointOf)
	if err != nil {
		return nil, fmt.Errorf("read the live checkpoints: %w", err)
	}
	out := map[string]liveRow{}
	var name string
	var cp int64
	var parts []int64
	var row liveRow
	_, err = pgx.ForEachRow(rows, []any{&name, &cp, &parts, &row.stalled, &row.stalls}, func() error {
		row.checkpoint = eventstore.Position(cp) //nolint:gosec // non-negative
		row.parts = nil
		for _, p := range parts {
			row.parts = append(row.parts, eventstore.Position(p)) //nolint:gosec // non-negative
		}
		out[name] = row
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the live checkpoints: %w", err)
	}
	return out, nil
}

// Checkpoints returns the checkpoint of every projection with a live build, read in one
// statement (the query role compares a replica's with the primary's to measure its lag).
func (r *Runtime) Checkpoints(ctx context.Context) (map[string]eventstore.Position, error) {
	rows, err := r.liveRows(ctx)
	if err != nil {
		return nil, err
	}
	out := make(map[string]eventstore.Position, len(rows))
	for name, row := range rows {
		out[name] = row.checkpoint
	}
	return out, nil
}

// poller is the watcher of a runtime over a standby, where LISTEN is refused: one goroutine
// reads every projection's live row each interval while at least one wait is in progress, and
// turns what changed into the notices a notifier would have received. However many requests
// wait, the cost is one query per interval; with none waiting, it reads nothing.
type poller struct {
	r        *Runtime
	interval time.Duration

	mu      sync.Mutex
	waiters int
	wake    chan struct{}
	notes   map[string]notice
	last    map[string]liveRow
	failing bool // the last read failed (logged once until one succeeds)

	demand    chan struct{} // a first waiter joined
	startOnce sync.Once
	cancel    context.CancelFunc
	done      chan struct{}
}

func newPoller(r *Runtime) *poller {
	return &poller{r: r, interval: r.opts.StandbyPoll, wake: make(chan struct{}), notes: map[string]notice{},
		demand: make(chan struct{}, 1), done: make(chan struct{})}
}

// join counts a waiter in (starting the poller on first use); leave counts it out.
func (p *poller) join() (leave func()) {
	p.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		p.cancel = cancel
		go p.run(ctx)
	})
	p.mu.Lock()
	p.waiters++
	p.mu.Unlock()
	select {
	case p.demand <- struct{}{}:
	default:
	}
	return func() {
		p.mu.Lock()
		p.waiters--
		p.mu.Unlock()
	}
}

// Snapshot reports a poller as always listening: waiters sleep until it wakes them, and
// never poll on their own. The generation never changes (there is no connection to lose).
func (p *poller) Snapshot() (wake <-chan struct{}, gen uint64, listening bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.wake, 0, true
}

func (p *poller) latest(name string) notice {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.notes[name]
}

// Stop ends the poller and waits for it.
func (p *poller) Stop() {
	p.startOnce.Do(func() { close(p.done) }) // never started
	if p.cancel != nil {
		p.cancel()
	}
	<-p.done
}

func (p *poller) run(ctx context.Context) {
	defer close(p.done)
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		p.mu.Lock()
		idle := p.waiters == 0
		p.mu.Unlock()
		if idle {
			select {
			case <-p.demand:
			case <-ctx.Done():
				return
			}
		}
		p.poll(ctx)
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// poll reads the live rows once and wakes the waiters when anything changed.
func (p *poller) poll(ctx context.Context) {
	rows, err := p.r.liveRows(ctx)
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		if !p.failing && ctx.Err() == nil {
			p.r.log.Warn().Err(err).Msg("projections: polling the standby's checkpoints failed; waits on it go on until their deadline")
		}
		p.failing = true
		return
	}
	p.failing = false
	changed := false
	for name, row := range rows {
		note, before := p.notes[name], p.last[name]
		if row.checkpoint > note.pos {
			note.pos, note.stalled, changed = row.checkpoint, false, true
		}
		// A partitioned build's waiters for one tenant need only its partition: announce each
		// partition's checkpoint, as the primary's NOTIFY "name/k:position" does.
		cloned := false
		for k, cp := range row.parts {
			if cp <= note.parts[k] {
				continue
			}
			if !cloned { // copied on write: waiters read the one they got
				note.parts, cloned = maps.Clone(note.parts), true
				if note.parts == nil {
					note.parts = map[int]eventstore.Position{}
				}
			}
			note.parts[k], changed = cp, true
		}
		if row.stalled && !note.stalled {
			note.stalled, changed = true, true
		}
		if row.stalls != before.stalls {
			note.stalls++
			changed = true
		}
		p.notes[name] = note
	}
	p.last = rows
	if changed {
		close(p.wake)
		p.wake = make(chan struct{})
	}
}
