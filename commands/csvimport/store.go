package csvimport

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// countingStore counts the events appended through it (not those an idempotent append found
// already stored).
type countingStore struct {
	eventstore.Store
	appended atomic.Int64
}

var _ eventstore.Store = (*countingStore)(nil)

func (s *countingStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	res, err := s.Store.Append(ctx, stream, expected, events...)
	if err == nil && !res.Duplicate {
		s.appended.Add(int64(len(events)))
	}
	return res, err
}

// dryStore reads the ledger (base) and keeps its own appends in memory: the handlers over it
// decide exactly as over the ledger, and nothing is stored. Appended events get positions
// after the base's head as it was when the first one was appended.
type dryStore struct {
	eventstore.Store
	now func() time.Time

	mu      sync.Mutex
	head    eventstore.Position   // base head at the first append (0 until then)
	streams map[string]*dryStream // streams appended to
	ids     map[uuid.UUID]eventstore.AppendResult
	events  []eventstore.Envelope // every appended event, in order
}

// dryStream is the base version of a stream and the events appended to it in memory.
type dryStream struct {
	base   uint64
	events []eventstore.Envelope
}

var _ eventstore.Store = (*dryStore)(nil)

func newDryStore(base eventstore.Store, now func() time.Time) *dryStore {
	return &dryStore{Store: base, now: now, streams: map[string]*dryStream{}, ids: map[uuid.UUID]eventstore.AppendResult{}}
}

// Append keeps events in memory under the store's rules: the expected version is checked
// against the base stream's version plus what was appended here, and event ids appended
// before return the first result.
func (s *dryStore) Append(ctx context.Context, stream string, expected eventstore.ExpectedVersion, events ...eventstore.EventData) (eventstore.AppendResult, error) {
	if len(events) == 0 {
		return eventstore.AppendResult{}, errors.New("dry run: append of no events")
	}
	st, err := s.stream(ctx, stream)
	if err != nil {
		return eventstore.AppendResult{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if res, ok := s.ids[events[0].ID]; ok {
		res.Duplicate = true
		return res, nil
	}
	current := st.base + uint64(len(st.events))
	if !expected.Check(current) {
		return eventstore.AppendResult{}, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: current}
	}
	if s.head == 0 && len(s.events) == 0 {
		if s.head, err = s.Store.Head(ctx); err != nil {
			return eventstore.AppendResult{}, err
		}
	}
	res := eventstore.AppendResult{StreamID: stream, FirstVersion: current + 1, FirstPosition: s.position()}
	for _, e := range events {
		md := e.Metadata
		md.RecordedAt = s.now().UTC()
		env := eventstore.Envelope{ID: e.ID, StreamID: stream, Version: current + 1, Position: s.position(), Type: e.Type,
			SchemaVersion: e.SchemaVersion, Data: e.Data, Metadata: md}
		st.events, s.events, current = append(st.events, env), append(s.events, env), current+1
	}
	res.LastVersion, res.LastPosition = current, s.position()-1
	s.ids[events[0].ID] = res
	return res, nil
}

// position is the position the next event appended here gets.
func (s *dryStore) position() eventstore.Position {
	return s.head + eventstore.Position(len(s.events)) + 1 //nolint:gosec // bounded by memory
}

// stream returns the in-memory record of stream, reading its base version on first use.
func (s *dryStore) stream(ctx context.Context, stream string) (*dryStream, error) {
	s.mu.Lock()
	st, ok := s.streams[stream]
	s.mu.Unlock()
	if ok {
		return st, nil
	}
	last, err := s.Store.ReadStream(ctx, stream, eventstore.EndOfStream, eventstore.Backwards, 1)
	if err != nil && !errors.Is(err, eventstore.ErrStreamNotFound) {
		return nil, err
	}
	st = &dryStream{}
	if len(last) > 0 {
		st.base = last[0].Version
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if prev, ok := s.streams[stream]; ok {
		return prev, nil
	}
	s.streams[stream] = st
	return st, nil
}

// ReadStream reads the base stream followed by the events appended here.
func (s *dryStore) ReadStream(ctx context.Context, stream string, from uint64, dir eventstore.Direction, limit int) ([]eventstore.Envelope, error) {
	s.mu.Lock()
	st, ok := s.streams[stream]
	var mem []eventstore.Envelope
	if ok {
		mem = append(mem, st.events...)
	}
	s.mu.Unlock()
	if !ok || len(mem) == 0 {
		return s.Store.ReadStream(ctx, stream, from, dir, limit)
	}
	if dir == eventstore.Backwards {
		return s.readBackwards(ctx, stream, st.base, mem, from, limit)
	}
	var out []eventstore.Envelope
	if from <= st.base {
		base, err := s.Store.ReadStream(ctx, stream, from, dir, limit)
		if err != nil {
			return nil, err
		}
		out = base
	}
	for _, e := range mem {
		if len(out) >= limit {
			break
		}
		if e.Version >= from {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *dryStore) readBackwards(ctx context.Context, stream string, base uint64, mem []eventstore.Envelope, from uint64, limit int) ([]eventstore.Envelope, error) {
	if from == eventstore.EndOfStream {
		from = mem[len(mem)-1].Version
	}
	var out []eventstore.Envelope
	for i := len(mem) - 1; i >= 0 && len(out) < limit; i-- {
		if mem[i].Version <= from {
			out = append(out, mem[i])
		}
	}
	if len(out) < limit && base > 0 {
		rest, err := s.Store.ReadStream(ctx, stream, min(from, base), eventstore.Backwards, limit-len(out))
		if err != nil {
			return nil, err
		}
		out = append(out, rest...)
	}
	return out, nil
}

// ReadAll reads the base feed followed by the events appended here.
func (s *dryStore) ReadAll(ctx context.Context, after eventstore.Position, limit int) ([]eventstore.Envelope, error) {
	s.mu.Lock()
	head, mem := s.head, append([]eventstore.Envelope(nil), s.events...)
	s.mu.Unlock()
	if len(mem) == 0 {
		return s.Store.ReadAll(ctx, after, limit)
	}
	if after < head {
		return s.Store.ReadAll(ctx, after, min(limit, int(head-after))) //nolint:gosec // after < head
	}
	var out []eventstore.Envelope
	for _, e := range mem {
		if e.Position > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// SubscribeAll is not offered by a dry run.
func (s *dryStore) SubscribeAll(context.Context, eventstore.Position) (eventstore.Subscription, error) {
	return nil, errors.New("dry run: no subscriptions")
}

// Head is the base's head, or the last position appended here.
func (s *dryStore) Head(ctx context.Context) (eventstore.Position, error) {
	s.mu.Lock()
	n := len(s.events)
	s.mu.Unlock()
	if n == 0 {
		return s.Store.Head(ctx)
	}
	return s.position() - 1, nil
}

// services returns the services provisioned here for customer.
func (s *dryStore) services(customer domain.CustomerID) ([]domain.ServiceID, error) {
	s.mu.Lock()
	mem := append([]eventstore.Envelope(nil), s.events...)
	s.mu.Unlock()
	var out []domain.ServiceID
	for i := range mem {
		if mem[i].Type != "ServiceProvisioned" {
			continue
		}
		e, err := codec.Decode(&mem[i])
		if err != nil {
			return nil, fmt.Errorf("dry run: %w", err)
		}
		if p, ok := e.(domain.ServiceProvisioned); ok && p.CustomerID == customer {
			out = append(out, p.ServiceID)
		}
	}
	return out, nil
}

// dryIndex is the billing index of a dry run: the ledger's, plus the services provisioned in
// memory.
type dryIndex struct {
	commands.BillingIndex
	store *dryStore
}

var _ commands.BillingIndex = dryIndex{}

func (x dryIndex) Services(ctx context.Context, tenant domain.TenantID, customer domain.CustomerID) ([]domain.ServiceID, error) {
	base, err := x.BillingIndex.Services(ctx, tenant, customer)
	if err != nil {
		return nil, err
	}
	mem, err := x.store.services(customer)
	return append(base, mem...), err
}

// LastNumbers is implemented by invoice number counters that can tell the last number they
// handed out without taking one (pgstore.Numbers).
type LastNumbers interface {
	Last(ctx context.Context, tenant domain.TenantID, year int) (int64, error)
}

// dryNumbersOffset is where a dry run's invoice numbers start when the ledger's counter
// cannot be read: far above any real number, so none collides with an issued invoice.
const dryNumbersOffset = 900_000_000

// dryNumbers hands out invoice numbers in memory, after the ledger's last (read, never
// taken): a dry run takes no number from the ledger's counters.
type dryNumbers struct {
	base commands.InvoiceNumbers
	mu   sync.Mutex
	last map[string]int64
}

var _ commands.InvoiceNumbers = (*dryNumbers)(nil)

func (n *dryNumbers) Next(ctx context.Context, tenant domain.TenantID, year int) (int64, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.last == nil {
		n.last = map[string]int64{}
	}
	key := fmt.Sprintf("%s/%d", tenant, year)
	if _, ok := n.last[key]; !ok {
		n.last[key] = dryNumbersOffset
		if l, ok := n.base.(LastNumbers); ok {
			last, err := l.Last(ctx, tenant, year)
			if err != nil {
				return 0, err
			}
			n.last[key] = last
		}
	}
	n.last[key]++
	return n.last[key], nil
}
