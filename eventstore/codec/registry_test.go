package codec

import (
	"encoding/json"
	"errors"
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
func newTestRegistry() *registry {
	r := newRegistry()
	r.register("PlanDefined", 3, planDefined{}, map[int]Upcaster{
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
	return r
}

func TestRegistryRoundTrip(t *testing.T) {
	r := newTestRegistry()
	name, ver, data, err := r.encode(&planDefined{Code: "fiber_100", Price: "79.99", Tax: "0.2"})
	require.NoError(t, err)
	assert.Equal(t, "PlanDefined", name)
	assert.Equal(t, 3, ver)
	got, err := r.decode(&eventstore.Envelope{Type: name, SchemaVersion: ver, Data: data})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "fiber_100", Price: "79.99", Tax: "0.2"}, got)
}

func TestRegistryUpcastsOldVersions(t *testing.T) {
	r := newTestRegistry()
	got, err := r.decode(&eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 1, Data: []byte(`{"code":"dsl_20","cost":"19.99"}`)})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "dsl_20", Price: "19.99", Tax: "0"}, got)
	got, err = r.decode(&eventstore.Envelope{Type: "PlanDefined", SchemaVersion: 2, Data: []byte(`{"code":"dsl_20","price":"19.99"}`)})
	require.NoError(t, err)
	assert.Equal(t, planDefined{Code: "dsl_20", Price: "19.99", Tax: "0"}, got)
}

func TestRegistryDecodeErrorsNameTheEvent(t *testing.T) {
	r := newTestRegistry()
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
			_, err := r.decode(&tc.env)
			var de *eventstore.DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.env.Position, de.Position)
			assert.Equal(t, tc.unknown, errors.Is(err, eventstore.ErrUnknownEventType))
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, _, _, err := r.encode(unrelated{})
	assert.ErrorIs(t, err, eventstore.ErrUnknownEventType)
}

func TestRegistryRegisterMisuse(t *testing.T) {
	r := newTestRegistry()
	assert.PanicsWithValue(t, `invariant: codec: "PlanDefined" registered twice`, func() { r.register("PlanDefined", 1, unrelated{}, nil) })
	assert.Panics(t, func() { r.register("Other", 1, planDefined{}, nil) }, "same Go type twice")
	assert.Panics(t, func() { r.register("Ptr", 1, &unrelated{}, nil) })
	assert.Panics(t, func() { r.register("Gap", 2, unrelated{}, nil) }, "missing upcaster")
}
