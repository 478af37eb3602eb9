package eventstore

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sync"

	"github.com/dotmac/ledger/internal/fastjson"
)

// Upcaster turns the JSON payload of one schema version into the payload of the next
// (version n to n+1). Stored bytes are never rewritten: upcasting happens on every read.
type Upcaster func(data json.RawMessage) (json.RawMessage, error)

// Codec maps event type names and schema versions to Go types. Register every event type
// once at start-up; after that a Codec is safe for concurrent use.
type Codec struct {
	mu     sync.RWMutex
	byName map[string]*codecEntry
	byType map[reflect.Type]*codecEntry
}

type codecEntry struct {
	name      string
	version   int
	goType    reflect.Type
	fast      *fastjson.Decoder // nil: encoding/json only
	upcasters map[int]Upcaster  // from version -> upcaster to version+1
}

// NewCodec returns an empty codec.
func NewCodec() *Codec {
	return &Codec{byName: map[string]*codecEntry{}, byType: map[reflect.Type]*codecEntry{}}
}

// Register binds name to the Go type of sample (a value, not a pointer) at the current schema
// version. upcasters[n] turns version n into n+1; every version from 1 to version-1 needs one.
// Registering a name or type twice is a programmer error and panics.
func (c *Codec) Register(name string, version int, sample any, upcasters map[int]Upcaster) {
	t := reflect.TypeOf(sample)
	if t == nil || t.Kind() == reflect.Pointer {
		panic(fmt.Sprintf("invariant: codec.Register(%q): sample must be a non-pointer value", name))
	}
	for v := 1; v < version; v++ {
		if upcasters[v] == nil {
			panic(fmt.Sprintf("invariant: codec.Register(%q): no upcaster from version %d", name, v))
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, dup := c.byName[name]; dup {
		panic(fmt.Sprintf("invariant: codec.Register: %q registered twice", name))
	}
	if _, dup := c.byType[t]; dup {
		panic(fmt.Sprintf("invariant: codec.Register: Go type %s registered twice", t))
	}
	e := &codecEntry{name: name, version: version, goType: t, upcasters: upcasters, fast: fastjson.For(t)}
	c.byName[name] = e
	c.byType[t] = e
}

// Encode returns the type name, schema version and JSON payload of event, which must be a
// registered type (value or pointer to it).
func (c *Codec) Encode(event any) (name string, version int, data json.RawMessage, err error) {
	t := reflect.TypeOf(event)
	if t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	c.mu.RLock()
	e := c.byType[t]
	c.mu.RUnlock()
	if e == nil {
		return "", 0, nil, fmt.Errorf("encode %v: %w", t, ErrUnknownEventType)
	}
	data, err = json.Marshal(event)
	if err != nil {
		return "", 0, nil, fmt.Errorf("encode %s: %w", e.name, err)
	}
	return e.name, e.version, data, nil
}

// Known reports whether name is registered.
func (c *Codec) Known(name string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.byName[name] != nil
}

// Names returns every registered type name.
func (c *Codec) Names() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	names := make([]string, 0, len(c.byName))
	for n := range c.byName {
		names = append(names, n)
	}
	return names
}

// Decode upcasts env's payload to the current schema version and decodes it into a value of
// the registered Go type (returned as a value, not a pointer). Any failure is a *DecodeError
// naming the type, version, stream and position; an unregistered type or a version newer
// than the registered one wraps ErrUnknownEventType.
func (c *Codec) Decode(env *Envelope) (any, error) {
	c.mu.RLock()
	e := c.byName[env.Type]
	c.mu.RUnlock()
	fail := func(err error) error {
		return &DecodeError{Type: env.Type, SchemaVersion: env.SchemaVersion, StreamID: env.StreamID,
			Version: env.Version, Position: env.Position, Err: err}
	}
	if e == nil {
		return nil, fail(ErrUnknownEventType)
	}
	if env.SchemaVersion < 1 || env.SchemaVersion > e.version {
		return nil, fail(fmt.Errorf("%w: schema version %d, this build knows 1 to %d", ErrUnknownEventType, env.SchemaVersion, e.version))
	}
	data := env.Data
	for v := env.SchemaVersion; v < e.version; v++ {
		up, err := e.upcasters[v](data)
		if err != nil {
			return nil, fail(fmt.Errorf("upcast from version %d: %w", v, err))
		}
		data = up
	}
	ptr := reflect.New(e.goType)
	if e.fast != nil && e.fast.Decode(data, ptr.Elem()) {
		return ptr.Elem().Interface(), nil
	}
	// encoding/json decides, and words the error, whenever the fast path declines.
	ptr = reflect.New(e.goType)
	if err := json.Unmarshal(data, ptr.Interface()); err != nil {
		return nil, fail(err)
	}
	return ptr.Elem().Interface(), nil
}
