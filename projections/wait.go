package projections

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/pglisten"
)

// pollWhileDeaf is how often WaitFor re-reads the checkpoint while the notification listener
// is reconnecting; while it listens, only a notification wakes a waiter.
const pollWhileDeaf = 250 * time.Millisecond

// watcher tells WaitFor's waiters when a projection's checkpoint, state or tenant stalls may
// have changed: the notifier (LISTEN, on a primary) or the poller (a standby, which cannot
// LISTEN; Options.Standby). join is called once per wait and its leave when the wait ends;
// Snapshot and latest are pglisten's and the notifier's contract.
type watcher interface {
	join() (leave func())
	Snapshot() (wake <-chan struct{}, gen uint64, listening bool)
	latest(name string) notice
	Stop()
}

// liveStatus is a projection's registry row read without its lock.
type liveStatus struct {
	state      State
	build      string
	version    int
	checkpoint eventstore.Position // of the asked tenant's partition, or else the lowest of all
	partitions int
	part       int                   // the asked tenant's partition (-1: none asked, or one partition)
	cps        []eventstore.Position // each partition's checkpoint
	stalledAt  eventstore.Position
	lastError  string
	// tenantErrorID is the error id of the asked tenant's stall, or else of the no-tenant ("")
	// stall, in the live build ("": none).
	tenantErrorID string
}

// liveState reads the projection's registry row and, for a tenant (nil: none), the error id of
// its stall in the live build.
func (r *Runtime) liveState(ctx context.Context, name string, tenant *string) (liveStatus, bool, error) {
	var st liveStatus
	var cps []int64
	var stalled *int64
	err := r.pool.QueryRow(ctx, `SELECT r.state, r.live_build, b.version, b.partitions, coalesce(f.positions, '{}'), r.stalled_position, coalesce(r.last_error, ''),
coalesce((SELECT s.error_id FROM `+r.sqls.stalls+` s WHERE s.build = r.live_build AND $2::text IS NOT NULL AND s.tenant IN ($2, '') ORDER BY s.tenant = '', s.position LIMIT 1), '')
FROM `+r.sqls.registry+` r JOIN `+r.sqls.builds+` b ON b.schema_name = r.live_build`+r.sqls.checkpointOf+` WHERE r.name = $1`, name, tenant).
		Scan(&st.state, &st.build, &st.version, &st.partitions, &cps, &stalled, &st.lastError, &st.tenantErrorID)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("read the checkpoint of %s: %w", name, err)
	}
	st.part = -1
	if tenant != nil && st.partitions > 1 {
		st.part = partitionOf(*tenant, st.partitions)
	}
	st.cps = make([]eventstore.Position, len(cps))
	for k, cp := range cps {
		st.cps[k] = eventstore.Position(cp) //nolint:gosec // non-negative
		if k == st.part || (st.part < 0 && (k == 0 || st.cps[k] < st.checkpoint)) {
			st.checkpoint = st.cps[k]
		}
	}
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
	st, found, err := r.liveState(ctx, name, nil)
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
// transaction sends (no polling while the listener is up), or on a standby by the runtime's
// one poller (Options.Standby). When ctx ends first it returns
// the checkpoint reached with a *NotReachedError (matching ErrNotReached and ctx's error);
// a projection stalled below pos returns at once with a *StalledError (ErrStalled). Other
// errors: ErrUnknownProjection, ErrNotBuilt. It ignores tenant stalls: a reader of one
// tenant's rows uses WaitForTenant.
func (r *Runtime) WaitFor(ctx context.Context, name string, pos eventstore.Position) (eventstore.Position, error) {
	return r.wait(ctx, name, nil, pos)
}

// WaitForTenant is WaitFor for a reader of tenant's rows: while the live build has stopped
// applying tenant's events (a tenant stall, see TenantStall) it answers at once, whatever pos,
// with a *TenantStalledError (ErrStalled) carrying the stall's error id and nothing of the
// event. Other tenants' stalls do not concern it, except the stall of events that name no
// tenant (tenant ""): those may touch any tenant's rows, so every tenant's wait reports it.
func (r *Runtime) WaitForTenant(ctx context.Context, name, tenant string, pos eventstore.Position) (eventstore.Position, error) {
	return r.wait(ctx, name, &tenant, pos)
}

func (r *Runtime) wait(ctx context.Context, name string, tenant *string, pos eventstore.Position) (eventstore.Position, error) {
	e, err := r.entry(name)
	if err != nil {
		return 0, err
	}
	defer r.note.join()()
	var unask func() // set once the wait has asked for pos (see pace.go)
	defer func() {
		if unask != nil {
			unask()
		}
	}()
	var reached eventstore.Position
	var seen, seenStalls uint64 // the notifier's generation and stall count last read from the database
	var last liveStatus         // the last read from the database
	first := true
	for {
		wake, gen, listening := r.note.Snapshot()
		note := r.note.latest(name)
		// A change of stalls (sent by a swap too, whose new build may have other partitions)
		// sends every waiter back to the database.
		if first || gen != seen || !listening || note.stalled || note.stalls != seenStalls {
			first = false
			st, found := r.known.get(name, tenant, gen, listening, note)
			var err error
			if !found {
				st, found, err = r.liveState(ctx, name, tenant)
				if err == nil && found {
					r.known.put(name, tenant, st, gen, listening, note)
				}
			}
			switch {
			case err != nil && ctx.Err() != nil:
				return reached, &NotReachedError{Projection: name, Want: pos, Reached: reached, Err: ctx.Err()}
			case err != nil:
				return reached, err
			case !found:
				return 0, fmt.Errorf("%w: %s", ErrNotBuilt, name)
			}
			reached, seen, seenStalls = max(reached, st.checkpoint), gen, note.stalls
			last = st
			if st.tenantErrorID != "" {
				return reached, &TenantStalledError{Projection: name, ErrorID: st.tenantErrorID, Reached: reached}
			}
			if st.state == StateStalled && reached < pos {
				return reached, &StalledError{Projection: name, Position: st.stalledAt, Reached: reached, Reason: st.lastError}
			}
		}
		reached = max(reached, last.reachedWith(note))
		if reached >= pos {
			return reached, nil
		}
		if unask == nil { // a live handler of this process paused below pos resumes
			unask = e.demand.ask(pos)
		}
		if err := pglisten.Wait(ctx, wake, listening, pollWhileDeaf); err != nil {
			return reached, &NotReachedError{Projection: name, Want: pos, Reached: reached, Err: err}
		}
	}
}

// knownStatuses are the live statuses this runtime's waiters last read from the database, by
// projection and tenant, each with the listener's generation and the projection's count of
// stall notifications at the time (taken before the read). While the listener has stayed
// connected since (same generation), every checkpoint move of the projection since the read
// was announced to it, so the status as read and the notices since tell a new waiter what a
// new read would: it starts from them without a round trip (each wait read the database once:
// every read-your-writes read of the query API, and the bench's lag probe, seven reads every
// 50 ms). A change of tenant stalls (a stall recorded or retried, a swap) is announced as
// "name:stalls" and a stalled projection as "name:stalled": either sends the waiter back to
// the database. A stalled status, or a tenant's stall, is never kept. The poller of a standby
// (Options.Standby) announces only what it polls, so nothing is kept there.
type knownStatuses struct {
	off bool // a standby's poller
	mu  sync.Mutex
	m   map[knownKey]knownStatus
}

type knownKey struct {
	name, tenant string
	forTenant    bool
}

type knownStatus struct {
	st          liveStatus
	gen, stalls uint64
}

// maxKnownStatuses bounds knownStatuses (one per projection and tenant waited for); when full
// it starts again empty.
const maxKnownStatuses = 4096

func keyOf(name string, tenant *string) knownKey {
	if tenant == nil {
		return knownKey{name: name}
	}
	return knownKey{name: name, tenant: *tenant, forTenant: true}
}

// get returns the status kept for name and tenant if it still holds (see knownStatuses).
func (k *knownStatuses) get(name string, tenant *string, gen uint64, listening bool, n notice) (liveStatus, bool) {
	if k.off || !listening || n.stalled {
		return liveStatus{}, false
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.m[keyOf(name, tenant)]
	if !ok || c.gen != gen || c.stalls != n.stalls {
		return liveStatus{}, false
	}
	return c.st, true
}

// put keeps st, read after the listener's generation gen and the notice n were taken.
func (k *knownStatuses) put(name string, tenant *string, st liveStatus, gen uint64, listening bool, n notice) {
	if k.off || !listening || n.stalled || st.state == StateStalled || st.tenantErrorID != "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.m == nil || len(k.m) >= maxKnownStatuses {
		k.m = map[knownKey]knownStatus{}
	}
	k.m[keyOf(name, tenant)] = knownStatus{st: st, gen: gen, stalls: n.stalls}
}

// notice is the last notification seen for a projection.
type notice struct {
	pos     eventstore.Position
	parts   map[int]eventstore.Position // of a partitioned live build ("name/k:position")
	stalled bool
	stalls  uint64 // how many "name:stalls" notifications arrived (tenant stalls recorded or retried)
}

// reachedWith is the position st's build has reached for its waiter (the asked tenant's
// partition, or every partition), each partition at the later of its checkpoint as read and
// its last announcement.
func (st *liveStatus) reachedWith(n notice) eventstore.Position {
	switch {
	case st.partitions <= 1 || len(st.cps) != st.partitions:
		return max(st.checkpoint, n.pos)
	case st.part >= 0:
		return max(st.cps[st.part], n.parts[st.part])
	}
	low := max(st.cps[0], n.parts[0])
	for k := 1; k < st.partitions; k++ {
		low = min(low, max(st.cps[k], n.parts[k]))
	}
	return low
}

// noteStalls is the notification payload's suffix for a change of a build's tenant stalls.
const noteStalls = "stalls"

// notifier keeps one LISTEN connection (pglisten) for the runtime's waiters and remembers
// each projection's last announced checkpoint.
type notifier struct {
	*pglisten.Listener
	mu    sync.Mutex
	notes map[string]notice
}

func newNotifier(r *Runtime) *notifier {
	n := &notifier{notes: map[string]notice{}}
	n.Listener = pglisten.New(r.pool, r.sqls.channel, r.log, n.record)
	return n
}

// join starts listening (once); a notifier listens for the runtime's life, not per wait.
func (n *notifier) join() (leave func()) {
	n.Start()
	return func() {}
}

func (n *notifier) latest(name string) notice {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.notes[name]
}

// record reads a notification: payload "name:position", "name/partition:position",
// "name:stalled" or "name:stalls".
func (n *notifier) record(payload string) {
	name, rest, ok := strings.Cut(payload, ":")
	if !ok {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, k, ok := strings.Cut(name, "/"); ok {
		part, kerr := strconv.Atoi(k)
		p, perr := strconv.ParseUint(rest, 10, 64)
		if note := n.notes[name]; kerr == nil && perr == nil && eventstore.Position(p) > note.parts[part] {
			note.parts = maps.Clone(note.parts) // copied on write: waiters read the one they got
			if note.parts == nil {
				note.parts = map[int]eventstore.Position{}
			}
			note.parts[part] = eventstore.Position(p)
			n.notes[name] = note
		}
		return
	}
	note := n.notes[name]
	switch rest {
	case "stalled":
		note.stalled = true
	case noteStalls:
		note.stalls++
	default:
		if p, err := strconv.ParseUint(rest, 10, 64); err == nil && eventstore.Position(p) > note.pos {
			note.pos, note.stalled = eventstore.Position(p), false
		}
	}
	n.notes[name] = note
}
