// Package events binds the domain's event types to the event store: one codec that knows
// every domain event (and, as schemas evolve, its upcasters), shared by the command side,
// the projections and the audit tools.
package events

import (
	"fmt"
	"sync"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

var (
	codecOnce sync.Once
	codec     *eventstore.Codec
)

// upcasters holds, per event type, the upcasters from each old schema version to the next.
// Every event is at schema version 1 today; when one changes shape, bump its SchemaVersion
// in domain/ and add the upcaster from the old version here.
var upcasters = map[string]map[int]eventstore.Upcaster{}

// Codec returns the codec registering every domain event at its current schema version.
func Codec() *eventstore.Codec {
	codecOnce.Do(func() {
		codec = eventstore.NewCodec()
		for _, e := range domain.AllEvents() {
			codec.Register(e.EventType(), e.SchemaVersion(), e, upcasters[e.EventType()])
		}
	})
	return codec
}

// Decode returns env's domain event, upcast to the current schema. Errors are
// *eventstore.DecodeError naming the type, stream and position.
func Decode(env *eventstore.Envelope) (domain.Event, error) {
	v, err := Codec().Decode(env)
	if err != nil {
		return nil, err
	}
	e, ok := v.(domain.Event)
	if !ok {
		return nil, &eventstore.DecodeError{Type: env.Type, SchemaVersion: env.SchemaVersion, StreamID: env.StreamID,
			Version: env.Version, Position: env.Position, Err: fmt.Errorf("invariant: %T is not a domain event", v)}
	}
	return e, nil
}

// Encode turns domain events into event data with fresh, time-ordered ids and md.
func Encode(md eventstore.Metadata, evs ...domain.Event) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		name, version, data, err := Codec().Encode(e)
		if err != nil {
			return nil, err
		}
		id, err := uuid.NewV7()
		if err != nil {
			return nil, fmt.Errorf("event id: %w", err)
		}
		out[i] = eventstore.EventData{ID: id, Type: name, SchemaVersion: version, Data: data, Metadata: md}
	}
	return out, nil
}
