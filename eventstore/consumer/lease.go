package consumer

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/dotmac/ledger/internal/wait"
)

// DefaultLeaseTTL is how long a lease lasts without a heartbeat.
const DefaultLeaseTTL = 15 * time.Second

// ErrLeaseLost: another process holds the consumer's lease (this one's expired and was taken
// over, or was never held).
var ErrLeaseLost = errors.New("feed consumer: lease lost")

// LeaseConfig tunes a Lease. Zero values take the defaults.
type LeaseConfig struct {
	// Holder names this process in the lease (default host-pid-random).
	Holder string
	// TTL is how long the lease lasts without a heartbeat (default DefaultLeaseTTL); Keep
	// renews it every TTL/3.
	TTL time.Duration
	// Poll is how often Acquire tries again while another process holds the lease
	// (default TTL/3).
	Poll time.Duration
	// Now is the clock the lease's times are written and compared with (default time.Now).
	// Every process sharing a table must have about the same clock.
	Now func() time.Time
}

func (c *LeaseConfig) setDefaults() {
	if c.Holder == "" {
		c.Holder = DefaultHolder()
	}
	if c.TTL <= 0 {
		c.TTL = DefaultLeaseTTL
	}
	if c.Poll <= 0 {
		c.Poll = c.TTL / 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// DefaultHolder names this process: host, pid and a random suffix (so that two Leases of
// one process, or a restarted process with the same pid, are different holders).
func DefaultHolder() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), uuid.NewString()[:8])
}

// Lease is one process's claim on a consumer's row of feed_checkpoints: while it holds the
// lease, no other process runs the consumer. A Lease is safe for concurrent use.
type Lease struct {
	pool                    *pgxpool.Pool
	name                    string
	cfg                     LeaseConfig
	acquire, renew, release string
}

// NewLease returns the lease on consumer name's row, in the table the pool's search_path finds.
func NewLease(pool *pgxpool.Pool, name string, cfg LeaseConfig) *Lease {
	cfg.setDefaults()
	l := &Lease{pool: pool, name: name, cfg: cfg}
	l.acquire, l.renew, l.release = leaseSQL("")
	return l
}

// Holder is the name this process holds leases under.
func (l *Lease) Holder() string { return l.cfg.Holder }

// TryAcquire takes the lease if it is free, expired or already this holder's, and reports
// whether this holder has it now, for at least two thirds of TTL: a try that took TTL/3 or
// longer renews what it took before it answers.
func (l *Lease) TryAcquire(ctx context.Context) (bool, error) {
	now := l.cfg.Now()
	var ok bool
	err := l.pool.QueryRow(ctx, l.acquire, l.name, l.cfg.Holder, now.Add(l.cfg.TTL), now).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("acquire the lease of %s: %w", l.name, err)
	}
	if l.cfg.Now().Sub(now) >= l.cfg.TTL/3 {
		// The try was slow (it waited on the row's lock, or for a database in trouble): the
		// lease it wrote runs out TTL after the try started, maybe before the first renewal,
		// maybe already, and another holder may take it then while this one applies. It is
		// renewed from now, or was taken over meanwhile and is not this holder's. The renewal
		// has time of its own: the try may have used up ctx's (Acquire bounds each try).
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.TTL/3)
		defer cancel()
		if err := l.Renew(rctx); err != nil {
			if errors.Is(err, ErrLeaseLost) {
				return false, nil
			}
			return false, err
		}
	}
	return true, nil
}

// Acquire stands by until this holder has the lease, trying every Poll; it returns ctx's
// error when ctx ends first, and then this holder does not have the lease: a try that ctx's
// end cut short may have taken it all the same (its statement committed, or it succeeded as
// ctx ended), so it is given back, or every other holder would stand by for TTL.
//
// Each try runs under a context detached from ctx's cancellation, bounded by TTL/3: a
// statement cancelled mid-flight may still commit on the server after the client gave up,
// too late for a release sent at once to undo it; and a try that succeeds leaves at least
// two thirds of the lease before its first renewal (at TTL/3), so no other holder can take
// it meanwhile. A try that ran out of time and committed all the same is taken again by the
// next try (the lease is this holder's).
func (l *Lease) Acquire(ctx context.Context) error {
	for {
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.TTL/3)
		ok, err := l.TryAcquire(tctx)
		cancel()
		if ctx.Err() != nil {
			l.releaseDetached(ctx)
			return ctx.Err()
		}
		if ok {
			return nil
		}
		_ = err // a failed try is tried again; the database may be restarting
		if err := wait.Sleep(ctx, l.cfg.Poll); err != nil {
			return err
		}
	}
}

// Renew extends the lease by TTL; ErrLeaseLost when another holder has it.
func (l *Lease) Renew(ctx context.Context) error {
	now := l.cfg.Now()
	tag, err := l.pool.Exec(ctx, l.renew, l.name, l.cfg.Holder, now.Add(l.cfg.TTL), now)
	if err != nil {
		return fmt.Errorf("renew the lease of %s: %w", l.name, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", l.name, ErrLeaseLost)
	}
	return nil
}

// Keep renews the lease every TTL/3 until ctx ends (it returns nil) or the lease is lost
// (ErrLeaseLost). A renewal that fails otherwise is tried again at the next beat; the lease
// runs out if they keep failing, and Keep returns the last error when it has.
func (l *Lease) Keep(ctx context.Context) error {
	beat := l.cfg.TTL / 3
	lastOK := l.cfg.Now()
	for wait.Sleep(ctx, beat) == nil {
		err := l.Renew(ctx)
		switch {
		case ctx.Err() != nil:
		case errors.Is(err, ErrLeaseLost):
			return err
		case err == nil:
			lastOK = l.cfg.Now()
		case l.cfg.Now().Sub(lastOK) >= l.cfg.TTL:
			return err
		}
	}
	return nil
}

// Release gives the lease up if this holder has it.
func (l *Lease) Release(ctx context.Context) error {
	if _, err := l.pool.Exec(ctx, l.release, l.name, l.cfg.Holder); err != nil {
		return fmt.Errorf("release the lease of %s: %w", l.name, err)
	}
	return nil
}

// releaseDetached releases the lease under a context of its own (ctx has ended), bounded.
func (l *Lease) releaseDetached(ctx context.Context) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = l.Release(rctx) // an unreleased lease runs out after TTL
}

// Hold runs fn while this holder has the lease: it acquires it (standing by), keeps it, and
// cancels fn's context when it is lost or ctx ends; then it releases it. It returns fn's
// error, or ErrLeaseLost when the lease was lost while fn ran.
func (l *Lease) Hold(ctx context.Context, fn func(ctx context.Context) error) error {
	if err := l.Acquire(ctx); err != nil {
		return err
	}
	held, cancel := context.WithCancelCause(ctx)
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		if err := l.Keep(held); err != nil {
			cancel(err)
		}
	}()
	err := fn(held)
	lost := context.Cause(held)
	cancel(nil)
	<-kept
	l.releaseDetached(ctx)
	if lost != nil && ctx.Err() == nil && !errors.Is(lost, context.Canceled) {
		return lost
	}
	return err
}
