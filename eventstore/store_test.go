package eventstore_test

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/eventstore"
)

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
