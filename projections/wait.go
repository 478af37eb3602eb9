package projections

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
)

// pollWhileDeaf is how often WaitFor re-reads the checkpoint while the notification listener
// is reconnecting; while it listens, only a notification wakes a waiter.
const pollWhileDeaf = 250 * time.Millisecond

// liveStatus is a projection's registry row read without its lock.
type liveStatus struct {
	state      State
	build      string
	version    int
	checkpoint eventstore.Position
	stalledAt  eventstore.Position
	lastError  string
}

func (r *Runtime) liveState(ctx context.Context, name string) (liveStatus, bool, error) {
	var st liveStatus
	var cp int64
	var stalled *int64
	err := r.pool.QueryRow(ctx, `SELECT r.state, r.live_build, b.version, b.checkpoint, r.stalled_position, coalesce(r.last_error, '')
FROM `+r.sqls.registry+` r JOIN `+r.sqls.builds+` b ON b.schema_name = r.live_build WHERE r.name = $1`, name).
		Scan(&st.state, &st.build, &st.version, &cp, &stalled, &st.lastError)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read the checkpoint of %s: %w", name, err)
	}
	st.checkpoint = eventstore.Position(cp) //nolint:gosec // non-negative
	if stalled != nil {
		st.stalledAt = eventstore.Position(*stalled) //nolint:gosec // non-negative
	}
	return st, true, nil
}

// Checkpoint returns the position up to which the projection's live build (the one queries
// read) has applied every event. Errors: ErrUnknownProjection, ErrNotBuilt.
func (r *Runtime) Checkpoint(ctx context.Context, name string) (eventstore.Position, error) {
	if _, err := r.entry(name); err != nil {
		return 0, err
	}
	st, found, err := r.liveState(ctx, name)
	if err != nil {
		return 0, err
	}
	if !found {
		return 0, fmt.Errorf("%w: %s", ErrNotBuilt, name)
	}
	return st.checkpoint, nil
}

// Head returns the position of the newest event in the store.
func (r *Runtime) Head(ctx context.Context) (eventstore.Position, error) { return r.store.Head(ctx) }

// WaitFor waits until the projection's live build has applied every event up to pos, and
// returns the checkpoint reached. It is woken by the NOTIFY each checkpoint-advancing
// transaction sends (no polling while the listener is up). When ctx ends first it returns
// the checkpoint reached with a *NotReachedError (matching ErrNotReached and ctx's error);
// a projection stalled below pos returns at once with a *StalledError (ErrStalled). Other
// errors: ErrUnknownProjection, ErrNotBuilt.
func (r *Runtime) WaitFor(ctx context.Context, name string, pos eventstore.Position) (eventstore.Position, error) {
	if _, err := r.entry(name); err != nil {
		return 0, err
	}
	r.note.start()
	var reached eventstore.Position
	var seen uint64 // the notifier's generation last read from the database
	for {
		wake, gen, listening := r.note.snapshot()
		note := r.note.latest(name)
		if gen != seen || !listening || note.stalled {
			st, found, err := r.liveState(ctx, name)
			switch {
			case err != nil && ctx.Err() != nil:
				return reached, &NotReachedError{Projection: name, Want: pos, Reached: reached, Err: ctx.Err()}
			case err != nil:
				return reached, err
			case !found:
				return 0, fmt.Errorf("%w: %s", ErrNotBuilt, name)
			}
			reached, seen = max(reached, st.checkpoint), gen
			if st.state == StateStalled && reached < pos {
				return reached, &StalledError{Projection: name, Position: st.stalledAt, Reached: reached, Reason: st.lastError}
			}
		}
		reached = max(reached, note.pos)
		if reached >= pos {
			return reached, nil
		}
		if err := r.note.wait(ctx, wake, listening); err != nil {
			return reached, &NotReachedError{Projection: name, Want: pos, Reached: reached, Err: err}
		}
	}
}

// notice is the last notification seen for a projection.
type notice struct {
	pos     eventstore.Position
	stalled bool
}

// notifier keeps one LISTEN connection for the runtime's waiters and wakes them all on every
// notification, remembering each projection's last announced checkpoint.
type notifier struct {
	r         *Runtime
	startOnce sync.Once
	mu        sync.Mutex
	wake      chan struct{}
	gen       uint64 // bumped on each (re)connection: waiters re-read the database
	listening bool
	notes     map[string]notice
	cancel    context.CancelFunc
	done      chan struct{}
}

func newNotifier(r *Runtime) *notifier {
	return &notifier{r: r, wake: make(chan struct{}), notes: map[string]notice{}, done: make(chan struct{})}
}

func (n *notifier) start() {
	n.startOnce.Do(func() {
		ctx, cancel := context.WithCancel(context.Background())
		n.mu.Lock()
		n.cancel = cancel
		n.mu.Unlock()
		go n.run(ctx)
	})
}

func (n *notifier) stop() {
	n.startOnce.Do(func() { close(n.done) })
	n.mu.Lock()
	cancel := n.cancel
	n.mu.Unlock()
	if cancel != nil {
		cancel()
		<-n.done
	}
}

func (n *notifier) snapshot() (wake <-chan struct{}, gen uint64, listening bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.wake, n.gen, n.listening
}

func (n *notifier) latest(name string) notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.notes[name]
}

func (n *notifier) wait(ctx context.Context, wake <-chan struct{}, listening bool) error {
	var poll <-chan time.Time
	if !listening {
		t := time.NewTimer(pollWhileDeaf)
		defer t.Stop()
		poll = t.C
	}
	select {
	case <-wake:
		return nil
	case <-poll:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// broadcast records a notification (payload "name:position" or "name:stalled") and wakes
// every waiter. connected bumps the generation.
func (n *notifier) broadcast(payload string, connected, listening bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, rest, ok := strings.Cut(payload, ":"); ok {
		note := n.notes[name]
		if rest == "stalled" {
			note.stalled = true
		} else if p, err := strconv.ParseUint(rest, 10, 64); err == nil && eventstore.Position(p) > note.pos {
			note.pos, note.stalled = eventstore.Position(p), false
		}
		n.notes[name] = note
	}
	if connected {
		n.gen++
	}
	n.listening = listening
	close(n.wake)
	n.wake = make(chan struct{})
}

func (n *notifier) run(ctx context.Context) {
	defer close(n.done)
	backoff := 100 * time.Millisecond
	for {
		err := n.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		n.broadcast("", false, false)
		n.r.log.Warn().Err(err).Dur("retry_in", backoff).Msg("projections: the checkpoint listener lost its connection")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

// listen holds a dedicated connection (outside the pool) in LISTEN until it fails.
func (n *notifier) listen(ctx context.Context) error {
	conn, err := pgx.ConnectConfig(ctx, n.r.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, "LISTEN "+ident(n.r.sqls.channel)); err != nil {
		return err
	}
	n.broadcast("", true, true) // waiters re-read: what committed while deaf is found now
	for {
		msg, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		n.broadcast(msg.Payload, false, true)
	}
}
