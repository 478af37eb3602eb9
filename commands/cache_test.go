package commands

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStateCacheEvictsTheLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	c := newStateCache(2)
	c.put("a", snapshot{state: 1, version: 1})
	c.put("b", snapshot{state: 2, version: 1})
	_, ok := c.get("a") // a is now the most recently used
	require.True(t, ok)
	c.put("c", snapshot{state: 3, version: 1})
	_, ok = c.get("b")
	assert.False(t, ok, "b was evicted")
	_, ok = c.get("a")
	assert.True(t, ok)
	assert.Equal(t, 2, c.len())
}

func TestStateCacheNeverGoesBack(t *testing.T) {
	t.Parallel()
	c := newStateCache(10)
	c.put("a", snapshot{state: "new", version: 5})
	c.put("a", snapshot{state: "old", version: 3})
	s, ok := c.get("a")
	require.True(t, ok)
	assert.Equal(t, "new", s.state)
	c.put("empty", snapshot{version: 0})
	_, ok = c.get("empty")
	assert.False(t, ok, "an empty stream is not cached")
	none := newStateCache(-1)
	none.put("a", snapshot{version: 1})
	assert.Equal(t, 0, none.len())
}

func TestDerivedIDsAreDeterministicV7(t *testing.T) {
	t.Parallel()
	src := uuid.Must(uuid.NewV7())
	a, b := DeriveUUID(src, "entity", "customer"), DeriveUUID(src, "entity", "customer")
	assert.Equal(t, a, b)
	assert.NotEqual(t, a, DeriveUUID(src, "entity", "payment"))
	assert.NotEqual(t, DeriveUUID(src, "ab", "c"), DeriveUUID(src, "a", "bc"), "labels are length-prefixed")
	assert.Equal(t, uuid.Version(7), a.Version())
	assert.Equal(t, uuid.RFC4122, a.Variant())
	assert.Equal(t, src[:6], a[:6], "the timestamp of the source: ids still sort by time")
	m := Meta{CommandID: src}
	assert.NotEqual(t, eventID(m, "s", 1, 0), eventID(m, "s", 2, 0))
	assert.NotEqual(t, eventID(m, "s", 1, 0), eventID(m, "s", 1, 1))
}

func TestOutcome(t *testing.T) {
	t.Parallel()
	assert.Equal(t, OutcomeOK, Outcome(nil))
	assert.Equal(t, OutcomeConflict, Outcome(&ConflictError{}))
	assert.Equal(t, OutcomeUnavailable, Outcome(context.DeadlineExceeded))
	assert.Equal(t, OutcomeError, Outcome(errors.New("boom")))
}
