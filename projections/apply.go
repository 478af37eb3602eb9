package projections

import (
	"context"
	"fmt"
	"runtime/debug"
	"sort"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/eventstore"
)

// decodeSet is the projections a batch is decoded for: an event is decoded if any of them
// handles its type (see Tuning.Handles).
type decodeSet []*entry

func (d decodeSet) handles(eventType string) bool {
	for _, e := range d {
		if e.handlesType(eventType) {
			return true
		}
	}
	return false
}

// trimmed reports whether every projection of d reads only what DecodeTrimmed decodes.
func (d decodeSet) trimmed() bool {
	for _, e := range d {
		if !e.tuning.Trimmed {
			return false
		}
	}
	return len(d) > 0
}

// decodeInto turns envelopes into events for d (see decodeInPlace), in dst's array when it
// is large enough (dst's events are overwritten), else in a new one.
func (r *Runtime) decodeInto(dst []Event, d decodeSet, envs []eventstore.Envelope) []Event {
	out := dst[:0]
	if cap(out) < len(envs) {
		out = make([]Event, len(envs))
	}
	out = out[:len(envs)]
	for i := range envs {
		out[i] = Event{Envelope: envs[i]}
	}
	r.decodeInPlace(d, out)
	return out
}

// decodeInPlace sets the payload of each event d handles (the others keep a nil payload and
// never reach Apply). An event that does not decode keeps a nil payload and its error, for
// foldTenants: it stalls that event's tenant, never the others.
func (r *Runtime) decodeInPlace(d decodeSet, evs []Event) {
	decode := r.opts.Decode
	if d.trimmed() {
		decode = r.opts.DecodeTrimmed
	}
	for i := range evs {
		if d.handles(evs[i].Type) {
			p, err := decode(&evs[i].Envelope)
			if err != nil {
				evs[i].decodeErr = err
			}
			evs[i].Payload = p
		}
		// Projections read the decoded payload and metadata: drop the raw bytes, most of a
		// replay's memory while its pages wait to be applied.
		evs[i].Data, evs[i].RawMetadata, evs[i].Hash = nil, nil, nil
	}
}

// after returns the events of evs (in global order) with a position above cp.
func after(evs []Event, cp eventstore.Position) []Event {
	i := sort.Search(len(evs), func(i int) bool { return evs[i].Position > cp })
	return evs[i:]
}

// span is the checkpoint rows of a build that one transaction advances over a batch: the
// partitions it applies (all of a build's own row: one partition).
type span struct {
	build string
	n     int   // the build's partitions (1: its own row)
	parts []int // the partitions advanced

	// known is what the transaction has already read or set (a live batch's, with its locks);
	// the zero value: nothing.
	known spanKnown
}

// spanKnown is what a transaction knows of its span before applying: its search_path set to
// the build already, and the tenants stalled in the build (read under the locks).
type spanKnown struct {
	searchPath bool
	stallsRead bool
	stalls     map[string]bool
}

// wholeSpan is a build's own checkpoint row: a build being filled (a shadow build, a copy) or
// a live build of one partition.
func wholeSpan(build string) span { return span{build: build, n: 1, parts: []int{0}} }

// applyTo folds evs into sp's build within tx and advances sp's checkpoints to last (the last
// event of the batch, folded or not), in the same transaction, leaving out the events of
// tenants stalled in the build (see foldTenants; with isolate, an event Apply cannot fold
// stalls its tenant instead of failing the batch). With notify, the new checkpoints are
// announced to WaitFor (delivered by PostgreSQL at commit). Apply's failure is an *ApplyError.
func (r *Runtime) applyTo(ctx context.Context, tx pgx.Tx, e *entry, sp span, evs []Event, last *Event, notify, isolate bool) error {
	return r.applyWith(ctx, tx, e, e.p.Apply, sp, evs, last, notify, isolate)
}

// applyFunc folds events into the build tx's search_path names: a Projection's Apply, or a
// Load's.
type applyFunc func(ctx context.Context, tx pgx.Tx, evs []Event) error

// applyWith is applyTo folding with apply.
func (r *Runtime) applyWith(ctx context.Context, tx pgx.Tx, e *entry, apply applyFunc, sp span, evs []Event, last *Event, notify, isolate bool) error {
	if !sp.known.searchPath {
		if err := setSearchPath(ctx, tx, ident(sp.build)); err != nil {
			return err
		}
	}
	if len(evs) > 0 {
		stalled, err := r.stallsOf(ctx, tx, sp)
		if err != nil {
			return err
		}
		if err := r.foldTenants(ctx, tx, e, apply, sp.build, stalled, evs, isolate); err != nil {
			return err
		}
	}
	return r.advance(ctx, tx, e, sp, last, notify)
}

// stallsOf returns the tenants stalled in sp's build: those its transaction read already, or
// read now.
func (r *Runtime) stallsOf(ctx context.Context, tx pgx.Tx, sp span) (map[string]bool, error) {
	if sp.known.stallsRead {
		return sp.known.stalls, nil
	}
	return r.stalledTenants(ctx, tx, sp.build)
}

// advance moves sp's checkpoints to last (forwards only: anything else is a bug). With notify,
// each checkpoint's statement also announces it (advanceNotify: one statement per partition,
// not two).
//
// It first sets the transaction's search_path back to the application's, in the same round
// trip, so that its statements, shared by every build, keep their plans (see readLiveRow); a
// caller applying again in the same transaction sets the build's path again (applyWith).
func (r *Runtime) advance(ctx context.Context, tx pgx.Tx, e *entry, sp span, last *Event, notify bool) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('search_path', $1, true)`, r.sqls.searchPath)
	pos := strconv.FormatUint(uint64(last.Position), 10)
	for _, k := range sp.parts {
		c := partConsumer(sp.build, sp.n, k)
		if notify {
			b.Queue(r.sqls.advanceNotify, c, int64(last.Position), last.RecordedAt(), r.sqls.channel, notePayload(e.name, sp.n, k, pos)) //nolint:gosec // positions fit
		} else {
			b.Queue(r.sqls.advance, c, int64(last.Position), last.RecordedAt()) //nolint:gosec // positions fit
		}
	}
	br := tx.SendBatch(ctx, b)
	_, err := br.Exec()
	for _, k := range sp.parts {
		if err != nil {
			break
		}
		var moved int64
		var xerr error
		if notify {
			var notified int64
			xerr = br.QueryRow().Scan(&moved, &notified)
		} else {
			var tag pgconn.CommandTag
			tag, xerr = br.Exec()
			moved = tag.RowsAffected()
		}
		if xerr == nil && moved != 1 {
			xerr = fmt.Errorf("invariant: checkpoint %s did not move forwards to %d", partConsumer(sp.build, sp.n, k), last.Position)
		}
		if xerr != nil {
			err = xerr
			break
		}
	}
	if cerr := br.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("projection %s: advance checkpoint: %w", e.name, err)
	}
	return nil
}

// notePayload is the notification of partition k (of n) of projection name reaching pos:
// "name:pos" for a build of one partition, "name/k:pos" otherwise.
func notePayload(name string, n, k int, pos string) string {
	if n <= 1 {
		return name + ":" + pos
	}
	return name + "/" + strconv.Itoa(k) + ":" + pos
}

// safeApply calls apply with the events e handles (all, unless its Tuning lists the types it
// handles; none: no call), turning its error or panic into an *ApplyError.
func safeApply(ctx context.Context, e *entry, apply applyFunc, tx pgx.Tx, evs []Event) error {
	first, last := evs[0].Position, evs[len(evs)-1].Position
	if evs = e.handled(evs); len(evs) == 0 {
		return nil
	}
	return guardApply(e.name, first, last, func() error { return apply(ctx, tx, evs) })
}

// guardApply runs apply, turning its error or panic into an *ApplyError for the events
// first..last of projection name.
func guardApply(name string, first, last eventstore.Position, apply func() error) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = &ApplyError{Projection: name, First: first, Last: last, Err: fmt.Errorf("panic: %v\n%s", v, debug.Stack())}
		}
	}()
	if err := apply(); err != nil {
		return &ApplyError{Projection: name, First: first, Last: last, Err: err}
	}
	return nil
}

// handlesType reports whether e's Apply uses events of the named type.
func (e *entry) handlesType(eventType string) bool {
	return e.handles == nil || e.handles[eventType]
}

// handled returns the events of evs e handles.
func (e *entry) handled(evs []Event) []Event {
	if e.handles == nil {
		return evs
	}
	return keepShared(evs, func(ev *Event) bool { return e.handles[ev.Type] })
}

// keepShared returns the events of evs that keep reports, in order: evs itself when that is
// all of them (no copy of a batch other goroutines may share and read), else a new slice of
// those. It never writes into evs.
func keepShared(evs []Event, keep func(*Event) bool) []Event {
	n := 0
	for i := range evs {
		if keep(&evs[i]) {
			n++
		}
	}
	if n == len(evs) {
		return evs
	}
	out := make([]Event, 0, n)
	for i := range evs {
		if keep(&evs[i]) {
			out = append(out, evs[i])
		}
	}
	return out
}

// applyPrefix applies as many of evs as it can, in order, each part in a savepoint, halving a
// failing part until the one event that fails alone is found. It returns how many events were
// applied (they stay in tx) and that event's error (nil when all applied).
func applyPrefix(ctx context.Context, tx pgx.Tx, e *entry, apply applyFunc, evs []Event) (int, error) {
	if len(evs) == 0 {
		return 0, nil
	}
	sp, err := tx.Begin(ctx)
	if err != nil {
		return 0, err
	}
	if err := safeApply(ctx, e, apply, sp, evs); err == nil {
		return len(evs), sp.Commit(ctx)
	} else if rbErr := sp.Rollback(ctx); rbErr != nil || len(evs) == 1 || ctx.Err() != nil {
		return 0, err
	}
	mid := len(evs) / 2
	n, err := applyPrefix(ctx, tx, e, apply, evs[:mid])
	if err != nil {
		return n, err
	}
	m, err := applyPrefix(ctx, tx, e, apply, evs[mid:])
	return mid + m, err
}

// guard holds session-level advisory locks on a connection of its own for as long as a
// rebuild (or a cleanup) runs; they are released by release or by the session's end.
type guard struct {
	conn *pgxpool.Conn
	keys []int64
}

// acquireGuard takes key without waiting; ErrRebuildInProgress if someone holds it.
func (r *Runtime) acquireGuard(ctx context.Context, key int64) (*guard, error) {
	conn, err := r.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	g := &guard{conn: conn}
	if !g.tryLock(ctx, key) {
		conn.Release()
		return nil, ErrRebuildInProgress
	}
	return g, nil
}

func (g *guard) tryLock(ctx context.Context, key int64) bool {
	var ok bool
	if err := g.conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&ok); err != nil || !ok {
		return false
	}
	g.keys = append(g.keys, key)
	return true
}

// release unlocks every key; if that fails, it closes the connection, which unlocks them too.
func (g *guard) release() {
	ctx, cancel := context.WithTimeout(context.Background(), guardReleaseTimeout)
	defer cancel()
	for _, k := range g.keys {
		if _, err := g.conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, k); err != nil {
			_ = g.conn.Hijack().Close(ctx)
			return
		}
	}
	g.conn.Release()
}

// guardReleaseTimeout bounds unlocking a guard.
const guardReleaseTimeout = 5 * time.Second
