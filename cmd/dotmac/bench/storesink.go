package bench

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// DefaultSinkAppenders is how many appends a StoreSink runs at once.
const DefaultSinkAppenders = 32

// StoreSink is the customer simulator's sink into an event store. Record decides each command
// with the domain (domainsim.Command.Decide), encodes its events where it runs, and queues
// them on their stream; appenders write the queued streams meanwhile, each stream's waiting
// events in one append (at most eventstore.MaxEventsPerAppend) at the version the simulation
// folded, never two appends of one stream at once. So the simulation goes on while the store
// writes, and a stream's commands that come while it is being written go in its next append.
// Flush waits until everything is written. Close the sink after the run.
type StoreSink struct {
	ctx   context.Context // domainsim.Sink takes no context: the sink serves one run
	store eventstore.Store

	mu      sync.Mutex
	work    *sync.Cond // signalled when a stream is ready
	idle    *sync.Cond // broadcast when nothing is queued or being written
	streams map[string]*queuedStream
	ready   []*queuedStream
	busy    int   // streams ready or being written
	err     error // the first append error: Record and Flush return it
	closed  bool
	done    sync.WaitGroup

	events, appends atomic.Int64
}

var (
	_ domainsim.Sink    = (*StoreSink)(nil)
	_ domainsim.Flusher = (*StoreSink)(nil)
)

// queuedStream is one stream with events to append.
type queuedStream struct {
	id       string
	expected uint64
	data     []eventstore.EventData
}

// NewStoreSink returns a sink appending to store with appenders appends at once (<= 0:
// DefaultSinkAppenders); ctx bounds the appends.
func NewStoreSink(ctx context.Context, store eventstore.Store, appenders int) *StoreSink {
	if appenders <= 0 {
		appenders = DefaultSinkAppenders
	}
	s := &StoreSink{ctx: ctx, store: store, streams: map[string]*queuedStream{}}
	s.work, s.idle = sync.NewCond(&s.mu), sync.NewCond(&s.mu)
	for range appenders {
		s.done.Go(s.appender)
	}
	return s
}

// Record decides cmd and queues its events on the stream. Events carry the command's tenant
// and actor in their metadata.
func (s *StoreSink) Record(cmd domainsim.Command) ([]domain.Event, error) {
	evs, err := cmd.Decide()
	if err != nil || len(evs) == 0 {
		return nil, err
	}
	md := eventstore.Metadata{TenantID: cmd.Tenant.String(), Actor: cmd.Actor.String(), CorrelationID: "bench"}
	data, err := codec.Encode(md, evs...)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, s.err
	}
	q := s.streams[cmd.Stream]
	if q == nil {
		q = &queuedStream{id: cmd.Stream, expected: cmd.Version}
		s.streams[cmd.Stream] = q
		s.ready = append(s.ready, q)
		s.busy++
		s.work.Signal()
	}
	q.data = append(q.data, data...)
	return evs, nil
}

// appender writes ready streams until the sink is closed.
func (s *StoreSink) appender() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		for len(s.ready) == 0 && !s.closed {
			s.work.Wait()
		}
		if len(s.ready) == 0 {
			return
		}
		q := s.ready[0]
		s.ready = s.ready[1:]
		data := q.data[:min(len(q.data), eventstore.MaxEventsPerAppend)]
		q.data = q.data[len(data):]
		s.mu.Unlock()
		err := s.append(q.id, q.expected, data)
		s.mu.Lock()
		q.expected += uint64(len(data))
		s.finish(q, err)
	}
}

// finish queues q again if more came for it meanwhile, else forgets it; s.mu is held.
func (s *StoreSink) finish(q *queuedStream, err error) {
	if err != nil && s.err == nil {
		s.err = err
	}
	if len(q.data) > 0 && s.err == nil {
		s.ready = append(s.ready, q)
		return
	}
	delete(s.streams, q.id)
	if s.busy--; s.busy == 0 {
		s.idle.Broadcast()
	}
}

func (s *StoreSink) append(stream string, expected uint64, data []eventstore.EventData) error {
	if _, err := s.store.Append(s.ctx, stream, eventstore.Exact(expected), data...); err != nil {
		return fmt.Errorf("append to %s at version %d: %w", stream, expected, err)
	}
	s.events.Add(int64(len(data)))
	s.appends.Add(1)
	return nil
}

// Flush waits until every event recorded so far is appended and returns the first append
// error.
func (s *StoreSink) Flush() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.busy > 0 {
		s.idle.Wait()
	}
	return s.err
}

// Close flushes and stops the appenders; the sink records nothing afterwards.
func (s *StoreSink) Close() error {
	err := s.Flush()
	s.mu.Lock()
	s.closed, s.err = true, errorOr(s.err, errSinkClosed)
	s.work.Broadcast()
	s.mu.Unlock()
	s.done.Wait()
	return err
}

var errSinkClosed = fmt.Errorf("the store sink is closed")

func errorOr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// Appended returns the events and appends written so far.
func (s *StoreSink) Appended() (events, appends int64) { return s.events.Load(), s.appends.Load() }
