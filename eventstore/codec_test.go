package eventstore_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

type planDefined struct {
	Code  string `json:"code"`
	Price string `json:"price"`
	Tax   string `json:"tax_rate"`
}

type unrelated struct{}

// v1 had "cost" instead of "price"; v2 had no tax_rate.
func newCodec() *eventstore.Codec {
	c := eventstore.NewCodec()
	c.Register("PlanDefined", 3, planDefined{}, map[int]eventstore.Upcaster{
		1: func(d json.RawMessage) (json.RawMessage, error) {
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				return nil, err
			}
			m["price"] = m["cost"]
			delete(m, "cost")
			return json.Marshal(m)
		},
		2: func(d json.RawMessage) (json.RawMessage, error) {
			var m map[string]any
			if err := json.Unmarshal(d, &m); err != nil {
				return nil, err
			}
			m["tax_rate"] = "0"
			return json.Marshal(m)
		},
	})
	return c
}

func TestCodecRoundTrip(t *testing.T) {
	c := newCodec()
	name, ver, data, err := c.Encode(&planDefined{Code: "fiber_100", Price: "79.99", Tax: "0.2"})
	require.NoError(t, err)
	assert.Equal(t, "PlanDefined", name)
	assert.Equal(t, 3, ver)
	got, err := c.Decode(&eventstore.Envelope{Type: name, SchemaVersion: ver, Data: data})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "fiber_100", Price: "79.99", Tax: "0.2"}, got)
	assert.True(t, c.Known("PlanDefined"))
	assert.Equal(t, []string{"PlanDefined"}, c.Names())
}

func TestCodecUpcastsOldVersions(t *testing.T) {
	c := newCodec()
	got, err := c.Decode(&eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 1, Data: []byte(`{"code":"dsl_20","cost":"19.99"}`)})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "dsl_20", Price: "19.99", Tax: "0"}, got)
	got, err = c.Decode(&eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 2, Data: []byte(`{"code":"dsl_20","price":"19.99"}`)})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "dsl_20", Price: "19.99", Tax: "0"}, got)
}

func TestCodecDecodeErrorsNameTheEvent(t *testing.T) {
	c := newCodec()
	tests := []struct {
		name    string
		env     eventstore.Envelope
		unknown bool
		want    string
	}{
		{"unknown type", eventstore.Envelope{Type: "Nope", SchemaVersion: 1, Position: 42, StreamID: "s", Version: 3, Data: []byte(`{}`)}, true, "decode Nope v1 at position 42"},
		{"newer version", eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 4, Position: 7, Data: []byte(`{}`)}, true, "schema version 4, this build knows 1 to 3"},
		{"version zero", eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 0, Position: 7, Data: []byte(`{}`)}, true, "at position 7"},
		{"bad json", eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 3, Position: 9, Data: []byte(`{"code":`)}, false, "at position 9"},
		{"wrong field type", eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 3, Position: 9, Data: []byte(`{"code":5}`)}, false, "at position 9"},
		{"upcaster fails", eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 1, Position: 11, Data: []byte(`[`)}, false, "upcast from version 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Decode(&tc.env)
			var de *eventstore.DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.env.Position, de.Position)
			assert.Equal(t, tc.unknown, errors.Is(err, eventstore.ErrUnknownEventType))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, _, _, err := c.Encode(unrelated{})
	assert.ErrorIs(t, err, eventstore.ErrUnknownEventType)
}

func TestCodecRegisterMisuse(t *testing.T) {
	c := newCodec()
	assert.PanicsWithValue(t, `invariant: codec.Register: "PlanDefined" registered twice`, func() { c.Register("PlanDefined", 1, unrelated{}, nil) })
	assert.Panics(t, func() { c.Register("Other", 1, planDefined{}, nil) }, "same Go type twice")
	assert.Panics(t, func() { c.Register("Ptr", 1, &unrelated{}, nil) })
	assert.Panics(t, func() { c.Register("Gap", 2, unrelated{}, nil) }, "missing upcaster")
}

func TestExpectedVersion(t *testing.T) {
	tests := []struct {
		e       eventstore.ExpectedVersion
		current uint64
		ok      bool
		str     string
	}{
		{eventstore.Any(), 0, true, "any"},
		{eventstore.Any(), 5, true, "any"},
		{eventstore.NoStream(), 0, true, "no stream"},
		{eventstore.NoStream(), 1, false, "no stream"},
		{eventstore.StreamExists(), 0, false, "stream exists"},
		{eventstore.StreamExists(), 2, true, "stream exists"},
		{eventstore.Exact(3), 3, true, "version 3"},
		{eventstore.Exact(3), 2, false, "version 3"},
		{eventstore.Exact(0), 0, true, "no stream"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.ok, tc.e.Check(tc.current), "%s at %d", tc.e, tc.current)
		assert.Equal(t, tc.str, tc.e.String())
	}
	v, ok := eventstore.Exact(9).ExactVersion()
	assert.True(t, ok)
	assert.Equal(t, uint64(9), v)
	err := &eventstore.WrongExpectedVersionError{Stream: "s", Expected: eventstore.Exact(2), Actual: 4}
	assert.ErrorIs(t, err, eventstore.ErrWrongExpectedVersion)
	assert.Equal(t, `append to "s": expected version 2, stream is at version 4`, err.Error())
}

const goldenHash = "b5d13955089fff94be1f32a3ea3032715edbbc3df5f25185593ff4a1269236b8" // computed independently (Python hashlib) from the documented layout

// TestChainHashGolden pins the canonical layout: changing it would orphan every stored hash.
func TestChainHashGolden(t *testing.T) {
	env := eventstore.Envelope{
		StreamID: "t-acme/customer-1", Version: 1, Type: "CustomerRegistered", SchemaVersion: 1,
		Data: []byte(`{"name":"Ada"}`), RawMetadata: []byte(`{"tenant_id":"acme","recorded_at":"2026-01-01T00:00:00Z"}`),
	}
	copy(env.ID[:], strings.Repeat("\x01", 16))
	h1 := eventstore.ChainHash(nil, &env)
	assert.Equal(t, goldenHash, hex.EncodeToString(h1))
	env.Version = 2
	h2 := eventstore.ChainHash(h1, &env)
	assert.NotEqual(t, h1, h2)
	assert.Contains(t, string(eventstore.CanonicalBytes(&env)), "dotmac.event.v1\n")
}
