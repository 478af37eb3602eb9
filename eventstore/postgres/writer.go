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
	queue chan []*appendReq // one append, or an AppendStreams call's appends, taken together
	quit  chan struct{}
	done  chan struct{}

	mu     sync.RWMutex // guards closed against submit racing stop
	closed bool

	carry []*appendReq // taken but left for the next batch (batch full, or an in-batch retry)
}

func newWriter(s *Store) *writer {
	w := &writer{s: s, queue: make(chan []*appendReq, s.cfg.QueueLength), quit: make(chan struct{}), done: make(chan struct{})}
	go w.run()
	return w
}

var errStoreClosed = errors.New("store closed")

// submit queues req and waits for its outcome. If ctx ends before the writer takes req, the
// append is abandoned and ctx's error returned; once taken, submit waits for the transaction's
// outcome (bounded by Config.BatchTimeout), so a nil error always means durable.
func (w *writer) submit(ctx context.Context, req *appendReq) (eventstore.AppendResult, error) {
	out := w.submitAll(ctx, []*appendReq{req})
	return out[0].res, out[0].err
}

// submitAll queues reqs together (the writer takes them into one transaction unless they
// exceed its limits) and waits for each one's outcome, as submit does.
func (w *writer) submitAll(ctx context.Context, reqs []*appendReq) []appendOutcome {
	out := make([]appendOutcome, len(reqs))
	for _, r := range reqs {
		r.done = make(chan appendOutcome, 1)
	}
	if err := w.enqueue(ctx, reqs); err != nil {
		for i := range out {
			out[i].err = err
		}
		return out
	}
	for i, r := range reqs {
		select {
		case out[i] = <-r.done:
		case <-ctx.Done():
			if r.state.CompareAndSwap(reqPending, reqAbandoned) {
				out[i].err = wrapf("append", ctx.Err())
				continue
			}
			out[i] = <-r.done
		}
	}
	return out
}

func (w *writer) enqueue(ctx context.Context, reqs []*appendReq) error {
	w.mu.RLock()
	defer w.mu.RUnlock()
	if w.closed {
		return &eventstore.UnavailableError{Op: "append", Err: errStoreClosed}
	}
	select {
	case w.queue <- reqs:
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
		case rs := <-w.queue:
			batch = w.take(batch, rs)
		case <-w.quit:
			return nil, false
		}
	}
	for len(w.carry) == 0 && len(batch) < w.s.cfg.MaxBatchAppends {
		select {
		case rs := <-w.queue:
			batch = w.take(batch, rs)
		default:
			return batch, true
		}
	}
	return batch, true
}

// take adds to batch the appends of rs the writer takes (not abandoned), up to the batch
// limits; the rest go into the carry, for the next batch.
func (w *writer) take(batch, rs []*appendReq) []*appendReq {
	events := countEvents(batch)
	for _, r := range rs {
		if !r.state.CompareAndSwap(reqPending, reqTaken) {
			continue
		}
		if len(w.carry) > 0 || (len(batch) > 0 && (events+len(r.events) > w.s.cfg.MaxBatchEvents || len(batch) >= w.s.cfg.MaxBatchAppends)) {
			w.carry = append(w.carry, r)
			continue
		}
		batch = append(batch, r)
		events += len(r.events)
	}
	return batch
}

// takeCarry takes the carried appends, in order, up to the batch limits (at least one).
func (w *writer) takeCarry() []*appendReq {
	n, events := 0, 0
	for n < len(w.carry) && n < w.s.cfg.MaxBatchAppends {
		if n > 0 && events+len(w.carry[n].events) > w.s.cfg.MaxBatchEvents {
			break
		}
		events += len(w.carry[n].events)
		n++
	}
	batch := w.carry[:n:n]
	w.carry = w.carry[n:]
	if len(w.carry) == 0 {
		w.carry = nil
	}
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
		case rs := <-w.queue:
			for _, r := range rs {
				if r.state.CompareAndSwap(reqPending, reqTaken) {
					r.done <- appendOutcome{err: err}
				}
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
