package pgstore

import (
	"context"
	"sync"
	"time"
)

// Limits of a group of statements.
const (
	// groupMaxItems bounds the items one grouped statement carries.
	groupMaxItems = 256
	// groupMaxInFlight bounds the grouped statements running at once. Two, not more: the
	// requests of a batch of commands on one customer arrive together (answered by one
	// append, their clients' next requests at once), and with four statements in flight a
	// burst of eight took five statements (0.6 claims and 0.6 completions per command on a
	// hot customer, each a transaction of PostgreSQL's), with two it takes three. Callers
	// wait at most for one statement in flight.
	groupMaxInFlight = 2
	// groupTimeout bounds one grouped statement.
	groupTimeout = 10 * time.Second
)

// group runs many callers' items in few statements ("group commit"): a caller that finds
// fewer than groupMaxInFlight statements running runs what is waiting (up to groupMaxItems,
// its own item included) in one statement; if more arrived meanwhile, a goroutine carries on
// with them, so no caller waits for more than its own statement. Under load each statement
// carries many items; alone, an item runs at once. No goroutine outlives the work.
type group[In, Out any] struct {
	run func(ctx context.Context, items []In) ([]Out, error)

	mu       sync.Mutex
	pending  []*groupCall[In, Out]
	inFlight int
}

type groupCall[In, Out any] struct {
	in   In
	out  Out
	err  error
	done chan struct{}
}

// newGroup returns a group running items with run, which must return one output per item, in
// order (or an error for all of them).
func newGroup[In, Out any](run func(ctx context.Context, items []In) ([]Out, error)) *group[In, Out] {
	return &group[In, Out]{run: run}
}

// do runs in within a group and returns its output, or ctx's error if ctx ends first (the
// item may still run).
func (g *group[In, Out]) do(ctx context.Context, in In) (Out, error) {
	c := &groupCall[In, Out]{in: in, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	flush := g.inFlight < groupMaxInFlight
	if flush {
		g.inFlight++
	}
	g.mu.Unlock()
	if flush {
		g.flush()
	}
	return c.wait(ctx)
}

// doLater is do for an item whose caller need not wait for it to go on (a completion, stored
// after its answer went out): it starts no statement of its own at once but joins the next
// one another item starts (or one running, which takes what waits when it ends), and starts
// one after delay if none did. Under load it rides with the claims of new requests instead of
// costing a round trip and a transaction of its own; alone, it is written delay later.
func (g *group[In, Out]) doLater(ctx context.Context, in In, delay time.Duration) (Out, error) {
	c := &groupCall[In, Out]{in: in, done: make(chan struct{})}
	g.mu.Lock()
	g.pending = append(g.pending, c)
	g.mu.Unlock()
	t := time.AfterFunc(delay, g.kick)
	defer t.Stop()
	return c.wait(ctx)
}

// kick runs what is waiting unless groupMaxInFlight statements run (each of which takes what
// waits when it ends).
func (g *group[In, Out]) kick() {
	g.mu.Lock()
	flush := g.inFlight < groupMaxInFlight && len(g.pending) > 0
	if flush {
		g.inFlight++
	}
	g.mu.Unlock()
	if flush {
		g.flush()
	}
}

// wait returns c's output once its statement ran, or ctx's error if ctx ends first (the item
// may still run).
func (c *groupCall[In, Out]) wait(ctx context.Context) (Out, error) {
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		var zero Out
		return zero, ctx.Err()
	}
}

// flush runs one statement of waiting items and hands what is left to a new goroutine (which
// keeps the in-flight slot).
func (g *group[In, Out]) flush() {
	g.mu.Lock()
	n := min(len(g.pending), groupMaxItems)
	if n == 0 {
		g.inFlight--
		g.mu.Unlock()
		return
	}
	batch := g.pending[:n:n]
	g.pending = g.pending[n:]
	g.mu.Unlock()
	g.runBatch(batch)
	go g.flush()
}

func (g *group[In, Out]) runBatch(batch []*groupCall[In, Out]) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	items := make([]In, len(batch))
	for i, c := range batch {
		items[i] = c.in
	}
	outs, err := g.run(ctx, items)
	if err == nil && len(outs) != len(batch) {
		panic("invariant: a grouped statement returned the wrong number of outputs")
	}
	for i, c := range batch {
		if err != nil {
			c.err = err
		} else {
			c.out = outs[i]
		}
		close(c.done)
	}
}
