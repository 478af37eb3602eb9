package domainsim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
)

// stream is one stream of the simulation: its id, the version folded so far and the state.
type stream[S any] struct {
	id      string
	version uint64
	state   S
}

// recorder hands commands to the sink and counts what they recorded; each lane and tenant has
// its own, so lanes running at once share nothing but the sink.
type recorder struct {
	sink  Sink
	stats Stats
}

// send completes c for stream st (Stream, Version, Decide against st's state), records it
// through the sink and folds the events the sink returns into st with apply.
func send[S any](rec *recorder, st *stream[S], c Command, decide func(S, time.Time) ([]domain.Event, error), apply func(S, domain.Event) (S, error)) ([]domain.Event, error) {
	state, at := st.state, c.At
	c.Stream, c.Version = st.id, st.version
	c.decide = func() ([]domain.Event, error) { return decide(state, at) }
	evs, err := rec.sink.Record(c)
	if err != nil {
		return nil, fmt.Errorf("%s %s on %s at %s: %w", c.Actor, c.Kind(), c.Stream, c.At.Format(time.RFC3339), err)
	}
	for _, e := range evs {
		if st.state, err = apply(st.state, e); err != nil {
			return nil, fmt.Errorf("%s %s on %s: fold what the sink recorded: %w", c.Actor, c.Kind(), c.Stream, err)
		}
	}
	st.version += uint64(len(evs))
	rec.stats.count(c, evs)
	return evs, nil
}

// UUIDv7 returns a version 7 UUID with at's millisecond timestamp and random bits from r: the
// ids of a simulation are reproducible, and sort by the simulated time.
func UUIDv7(r *rand.Rand, at time.Time) uuid.UUID {
	var u uuid.UUID
	binary.BigEndian.PutUint64(u[0:8], r.Uint64())
	binary.BigEndian.PutUint64(u[8:16], r.Uint64())
	ms := uint64(max(0, at.UnixMilli()))
	u[0], u[1], u[2], u[3], u[4], u[5] = byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms)
	u[6] = u[6]&0x0f | 0x70
	u[8] = u[8]&0x3f | 0x80
	return u
}

// newID returns a typed id from UUIDv7(r, at).
func newID[K any](r *rand.Rand, at time.Time, wrap func(uuid.UUID) (K, error)) K {
	id, err := wrap(UUIDv7(r, at))
	if err != nil {
		panic("invariant: a UUIDv7 is a valid id: " + err.Error())
	}
	return id
}

// money returns cents hundredths of c's major unit in c, rounded half up to c's minor unit
// (7999 is 79.99 USD, 79.990 BHD, 80 JPY). Amounts are integers all the way.
func money(cents int64, c domain.Currency) domain.Money {
	units := cents
	switch mu := c.MinorUnits(); {
	case mu > 2:
		for range mu - 2 {
			units *= 10
		}
	case mu < 2:
		div := int64(1)
		for range 2 - mu {
			div *= 10
		}
		units = (cents + div/2) / div
	}
	return domain.MoneyFromMinorUnits(units, c)
}
