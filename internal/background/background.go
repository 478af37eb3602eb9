// Package background keeps a processor free for the requests a process serves while it does
// background work (a billing run's decisions, a projection's catch-up).
//
// Go's scheduler has no priorities: a request's goroutine that becomes runnable while every
// processor runs background work waits in the run queue behind it, up to a time slice (10 ms)
// behind each busy goroutine, and a request becomes runnable several times on its way (read,
// each database round trip, write). A Gate bounds how many goroutines run background work's
// CPU-bound stretches at once, to one fewer than GOMAXPROCS by default, so a request finds a
// processor free or one about to be. Background work holds a slot only while it computes,
// never across a round trip, and gives it back between items of a long loop (Yield), so the
// wait for a slot is short and background throughput is bounded by GOMAXPROCS − 1 processors,
// not by the gate's bookkeeping.
package background

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
)

// Gate bounds the goroutines in background work's CPU-bound stretches. The zero value is not
// usable; use NewGate or Shared.
type Gate struct {
	slots   chan struct{}
	waiting atomic.Int64
}

// NewGate returns a gate admitting n goroutines at once (at least one).
func NewGate(n int) *Gate {
	return &Gate{slots: make(chan struct{}, max(1, n))}
}

// Size is how many goroutines the gate admits at once.
func (g *Gate) Size() int { return cap(g.slots) }

// Shared is the process's gate: GOMAXPROCS − 1 slots, at least one, read at its first use.
var Shared = sync.OnceValue(func() *Gate { return NewGate(runtime.GOMAXPROCS(0) - 1) })

// Enter waits for a slot and returns it held, or ctx's error if ctx ends first.
func (g *Gate) Enter(ctx context.Context) (*Slot, error) {
	if err := g.acquire(ctx); err != nil {
		return nil, err
	}
	return &Slot{gate: g, held: true}, nil
}

func (g *Gate) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case g.slots <- struct{}{}:
		return nil
	default:
	}
	g.waiting.Add(1)
	defer g.waiting.Add(-1)
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Waiting is how many goroutines wait for a slot now.
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }

// Do runs fn holding a slot.
func (g *Gate) Do(ctx context.Context, fn func() error) error {
	s, err := g.Enter(ctx)
	if err != nil {
		return err
	}
	defer s.Leave()
	return fn()
}

// Slot is one goroutine's place in a gate. It is not safe for use by several goroutines.
type Slot struct {
	gate *Gate
	held bool
}

// Leave gives the slot back; leaving a slot not held does nothing.
func (s *Slot) Leave() {
	if s.held {
		s.held = false
		<-s.gate.slots
	}
}

// Yield gives the slot back, yields the processor (requests waiting for one run first), and
// takes a slot again: call it between the items of a long loop. On ctx's end it returns ctx's
// error holding no slot.
func (s *Slot) Yield(ctx context.Context) error {
	s.Leave()
	runtime.Gosched()
	if err := s.gate.acquire(ctx); err != nil {
		return err
	}
	s.held = true
	return nil
}
