// Package codec is the stored form of the domain's events: the one place that turns a
// domain.Event into the JSON payload, type name and schema version an event store keeps, and
// back. The command side encodes with it; the projections, the process managers, the billing
// index and the audit tools decode with it.
//
//   - Encode and EncodeEvent write each event with encoding/json, under the JSON field names of
//     the domain's event types (domain/events_*.go) and the value types' canonical forms
//     (money {"amount":"79.99","currency":"USD"}, dates "2026-01-10", ids as UUID strings).
//   - Decode upcasts an older schema version to the current one (see upcasters) and decodes it.
//     Replays decode millions of events, so decoding takes a one-pass fast path (decoder.go,
//     with readers for the domain's value types in values.go) that gives exactly what
//     encoding/json gives, and hands anything else to encoding/json (fuzz tests hold them
//     equal).
//   - DecodeTrimmed is Decode for readers that never look at an invoice's lines (the journal,
//     balances and invoice read models, the audit's ledger checks): an InvoiceIssued comes back
//     as its domain.InvoiceIssuedHead, which skips most of its bytes.
//
// Adding an event type: add it to domain.AllEvents. Changing the shape of an event
// incompatibly: bump its SchemaVersion in domain/ and add the upcaster from the old version
// here. Stored bytes are never rewritten.
package codec

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/google/uuid"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
)

// Upcaster turns the JSON payload of one schema version into the payload of the next
// (version n to n+1). Upcasting happens on every read.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// upcasters holds, per event type, the upcasters from each old schema version to the next.
// Every event is at schema version 1 today.
var upcasters = map[string]map[int]Upcaster{}

// events registers every domain event at its current schema version.
var events = func() *registry {
	r := newRegistry()
	for _, e := range domain.AllEvents() {
		r.register(e.EventType(), e.SchemaVersion(), e, upcasters[e.EventType()])
	}
	return r
}()

// Decode returns env's domain event, upcast to the current schema. Every value inside is
// validated by its own type (ids, money, dates, enums); unknown fields are ignored. Errors are
// *eventstore.DecodeError naming the type, stream and position; an unregistered type or a
// schema version newer than this build's wraps eventstore.ErrUnknownEventType.
func Decode(env *eventstore.Envelope) (domain.Event, error) {
	v, err := events.decode(env)
	if err != nil {
		return nil, err
	}
	e, ok := v.(domain.Event)
	if !ok {
		return nil, decodeError(env, fmt.Errorf("invariant: %T is not a domain event", v))
	}
	return e, nil
}

// DecodeTrimmed is Decode, except that an InvoiceIssued at the current schema version comes
// back as its domain.InvoiceIssuedHead (everything but its lines, which repeat the lines of
// the draft's events and are most of its bytes). domain.Postings gives the same journal entry
// for both.
func DecodeTrimmed(env *eventstore.Envelope) (domain.Event, error) {
	issued := domain.InvoiceIssued{}
	if env.Type != issued.EventType() || env.SchemaVersion != issued.SchemaVersion() {
		return Decode(env)
	}
	var h domain.InvoiceIssuedHead
	if err := unmarshal(env.Data, &h); err != nil {
		return nil, decodeError(env, err)
	}
	return h, nil
}

// EncodeEvent returns the type name, schema version and JSON payload of e. An event type
// missing from domain.AllEvents wraps eventstore.ErrUnknownEventType.
func EncodeEvent(e domain.Event) (name string, version int, data json.RawMessage, err error) {
	return events.encode(e)
}

// Encode turns domain events into event data with fresh, time-ordered (UUIDv7) ids and md.
func Encode(md eventstore.Metadata, evs ...domain.Event) ([]eventstore.EventData, error) {
	out := make([]eventstore.EventData, len(evs))
	for i, e := range evs {
		name, version, data, err := EncodeEvent(e)
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

func decodeError(env *eventstore.Envelope, err error) error {
	return &eventstore.DecodeError{Type: env.Type, SchemaVersion: env.SchemaVersion, StreamID: env.StreamID,
		Version: env.Version, Position: env.Position, Err: err}
}

// registry maps event type names and schema versions to Go types. It is filled once, at
// package initialisation, and only read afterwards.
type registry struct {
	byName map[string]*registered
	byType map[reflect.Type]*registered
}

type registered struct {
	name      string
	version   int
	goType    reflect.Type
	fast      *structDecoder   // nil: encoding/json only
	upcasters map[int]Upcaster // from version -> upcaster to version+1
}

func newRegistry() *registry {
	return &registry{byName: map[string]*registered{}, byType: map[reflect.Type]*registered{}}
}

// register binds name to the Go type of sample (a value, not a pointer) at the current schema
// version. upcasters[n] turns version n into n+1; every version from 1 to version-1 needs one.
// Registering a name or type twice is a programmer error and panics.
func (r *registry) register(name string, version int, sample any, upcasters map[int]Upcaster) {
	t := reflect.TypeOf(sample)
	if t == nil || t.Kind() == reflect.Pointer {
		panic(fmt.Sprintf("invariant: codec: register %q: the sample must be a non-pointer value", name))
	}
	for v := 1; v < version; v++ {
		if upcasters[v] == nil {
			panic(fmt.Sprintf("invariant: codec: register %q: no upcaster from version %d", name, v))
		}
	}
	if _, dup := r.byName[name]; dup {
		panic(fmt.Sprintf("invariant: codec: %q registered twice", name))
	}
	if _, dup := r.byType[t]; dup {
		panic(fmt.Sprintf("invariant: codec: Go type %s registered twice", t))
	}
	e := &registered{name: name, version: version, goType: t, upcasters: upcasters, fast: decoderFor(t)}
	r.byName[name] = e
	r.byType[t] = e
}

// encode returns the type name, schema version and JSON payload of event, which must be a
// registered type (value or pointer to it).
func (r *registry) encode(event any) (name string, version int, data json.RawMessage, err error) {
	t := reflect.TypeOf(event)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	e := r.byType[t]
	if e == nil {
		return "", 0, nil, fmt.Errorf("encode %v: %w", t, eventstore.ErrUnknownEventType)
	}
	data, err = json.Marshal(event)
	if err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", e.name, err)
	}
	return e.name, e.version, data, nil
}

// decode upcasts env's payload to the current schema version and decodes it into a value of
// the registered Go type (returned as a value, not a pointer).
func (r *registry) decode(env *eventstore.Envelope) (any, error) {
	e := r.byName[env.Type]
	if e == nil {
		return nil, decodeError(env, eventstore.ErrUnknownEventType)
	}
	if env.SchemaVersion < 1 || env.SchemaVersion > e.version {
		return nil, decodeError(env, fmt.Errorf("%w: schema version %d, this build knows 1 to %d",
			eventstore.ErrUnknownEventType, env.SchemaVersion, e.version))
	}
	data := env.Data
	for v := env.SchemaVersion; v < e.version; v++ {
		up, err := e.upcasters[v](data)
		if err != nil {
			return nil, decodeError(env, fmt.Errorf("upcast from version %d: %w", v, err))
		}
		data = up
	}
	ptr := reflect.New(e.goType)
	if e.fast != nil && e.fast.decode(data, ptr.Elem()) {
		return ptr.Elem().Interface(), nil
	}
	// encoding/json decides, and words the error, whenever the fast path declines.
	ptr = reflect.New(e.goType)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, decodeError(env, err)
	}
	return ptr.Elem().Interface(), nil
}
