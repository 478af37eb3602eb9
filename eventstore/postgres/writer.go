package postgres

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/eventstore"
)

// appendReq is one Append call waiting for the group-commit writer.
type appendReq struct {
	stream   string
	expected eventstore.ExpectedVersion
	events   []eventstore.EventData
	state    atomic.Int32 // reqPending -> reqTaken (writer) or reqAbandoned (caller gave up)
	done     chan appendOutcome
}

const (
	reqPending int32 = iota
	reqTaken
	reqAbandoned
)

type appendOutcome struct {
	res eventstore.AppendResult
	err error
}

// writer is the single goroutine that turns queued appends into group-commit transactions.
type writer struct {
	s     *Store
	queue chan *appendReq
	quit  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex // guards closed against submit racing stop
	closed bool

	carry []*appendReq // taken but left for the next batch (batch full, or an in-batch retry)
}

func newWriter(s *Store) *writer {
	w := &writer{s: s, queue: make(chan *appendReq, s.cfg.QueueLength), quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

var errStoreClosed = errors.New("store closed")

// submit queues req and waits for its outcome. If ctx ends before the writer takes req, the
// append is abandoned and ctx's error returned; once taken, submit waits for the transaction's
// outcome (bounded by Config.BatchTimeout), so a nil error always means durable.
func (w *writer) submit(ctx context.Context, req *appendReq) (eventstore.AppendResult, error) {
	req.done = make(chan appendOutcome, 1)
	if err := w.enqueue(ctx, req); err != nil {
		return eventstore.AppendResult{}, err
	}
	select {
	case out := <-req.done:
		return out.res, out.err
	case <-ctx.Done():
		if req.state.CompareAndSwap(reqPending, reqAbandoned) {
			return eventstore.AppendResult{}, wrapf("append", ctx.Err())
		}
		out := <-req.done
		return out.res, out.err
	}
}

func (w *writer) enqueue(ctx context.Context, req *appendReq) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return &eventstore.UnavailableError{Op: "append", Err: errStoreClosed}
	}
	select {
	case w.queue <- req:
		return nil
	case <-ctx.Done():
		return wrapf("append", ctx.Err())
	}
}

func (w *writer) stop() {
	w.mu.Lock()
	w.closed = true
	w.mu.Unlock()
	close(w.quit)
	<-w.done
}

func (w *writer) run() {
	defer close(w.done)
	for {
		batch, ok := w.collect()
		if !ok {
			w.failPending()
			return
		}
		if len(batch) > 0 {
			w.commit(batch)
		}
	}
}

// collect blocks for the first append, then takes whatever else is waiting, up to the batch
// limits (the batch may be empty when every append it found was abandoned). It returns false
// when the writer is stopping.
func (w *writer) collect() ([]*appendReq, bool) {
	batch := w.takeCarry()
	if len(batch) == 0 {
		select {
		case r := <-w.queue:
			if r.state.CompareAndSwap(reqPending, reqTaken) {
				batch = append(batch, r)
			}
		case <-w.quit:
			return nil, false
		}
	}
	events := countEvents(batch)
	for len(batch) < w.s.cfg.MaxBatchAppends {
		var r *appendReq
		select {
		case r = <-w.queue:
		default:
			return batch, true
		}
		if !r.state.CompareAndSwap(reqPending, reqTaken) {
			continue
		}
		if len(batch) > 0 && events+len(r.events) > w.s.cfg.MaxBatchEvents {
			w.carry = append(w.carry, r)
			return batch, true
		}
		batch = append(batch, r)
		events += len(r.events)
	}
	return batch, true
}

func (w *writer) takeCarry() []*appendReq {
	if len(w.carry) == 0 {
		return nil
	}
	batch := w.carry
	w.carry = nil
	return batch
}

func countEvents(batch []*appendReq) int {
	n := 0
	for _, r := range batch {
		n += len(r.events)
	}
	return n
}

// failPending answers every append still waiting once the writer stops.
func (w *writer) failPending() {
	err := &eventstore.UnavailableError{Op: "append", Err: errStoreClosed}
	for _, r := range w.takeCarry() {
		r.done <- appendOutcome{err: err}
	}
	for {
		select {
		case r := <-w.queue:
			if r.state.CompareAndSwap(reqPending, reqTaken) {
				r.done <- appendOutcome{err: err}
			}
		default:
			return
		}
	}
}

// commit runs one group-commit transaction for batch and answers every append in it.
func (w *writer) commit(batch []*appendReq) {
	ctx, cancel := context.WithTimeout(context.Background(), w.s.cfg.BatchTimeout)
	defer cancel()
	start := time.Now()
	plan, err := w.s.runBatch(ctx, batch)
	if err != nil {
		err = classify("append", err)
	}
	for i, r := range batch {
		switch {
		case plan != nil && plan.outcomes[i].retry:
			w.carry = append(w.carry, r)
		case plan != nil && plan.outcomes[i].final:
			r.done <- appendOutcome{res: plan.outcomes[i].res, err: plan.outcomes[i].err}
		case err != nil:
			r.done <- appendOutcome{err: err}
		default:
			r.done <- appendOutcome{res: plan.outcomes[i].res}
		}
	}
	w.s.observeBatch(len(batch), countEvents(batch), time.Since(start), err)
}
