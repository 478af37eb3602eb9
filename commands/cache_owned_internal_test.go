package commands

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeOwned is an owned state for the cache's tests.
type fakeOwned struct{ snap snapshot }

func (o *fakeOwned) snapshot() snapshot { return o.snap }

// TestTheCacheHandsAnOwnedStateToOneHolder: between two batches the owned state goes to the
// next leader (take) or, with its ownership, to a reader (get), never to both; while a leader
// holds it, readers get the shared snapshot (kept beside a later owned state only for a busy
// stream); an owned state behind a shared one is dropped.
func TestTheCacheHandsAnOwnedStateToOneHolder(t *testing.T) {
	t.Parallel()
	c := newStateCache(10)
	shared := snapshot{state: "v1", version: 1}
	c.put("s", shared)
	o := &fakeOwned{snap: snapshot{state: "v3", version: 3}}
	c.giveBack("s", o, true)

	snap, owned, ok := c.take("s")
	require.True(t, ok)
	assert.Same(t, o, owned, "the next leader takes the owned state")
	assert.Equal(t, shared, snap)
	got, ok := c.get("s")
	require.True(t, ok)
	assert.Equal(t, shared, got, "a reader meanwhile gets the shared snapshot")
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "no second leader gets it")

	c.giveBack("s", o, true)
	got, _ = c.get("s")
	assert.Equal(t, o.snap, got, "a reader gets the owned state between batches")
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "and it is shared from then on: the next leader gets no owner")

	c.giveBack("s", &fakeOwned{snap: snapshot{state: "v2", version: 2}}, false)
	_, owned, _ = c.take("s")
	assert.Nil(t, owned, "an owned state behind the shared snapshot is dropped")

	o4 := &fakeOwned{snap: snapshot{state: "v4", version: 4}}
	c.giveBack("s", o4, false)
	c.put("s", snapshot{state: "v5", version: 5})
	snap, owned, _ = c.take("s")
	assert.Nil(t, owned, "a later shared snapshot (another process's events) wins")
	assert.Equal(t, uint64(5), snap.version)

	c.giveBack("t", &fakeOwned{snap: snapshot{state: "t1", version: 1}}, false)
	got, ok = c.get("t")
	require.True(t, ok, "an entry made by giveBack alone")
	assert.Equal(t, "t1", got.state)

	none := newStateCache(0)
	none.giveBack("s", o, false)
	_, owned, ok = none.take("s")
	assert.False(t, ok)
	assert.Nil(t, owned, "a cache of no streams keeps no owned state")

	idle := newStateCache(10)
	idle.put("s", shared)
	idle.giveBack("s", o, false)
	_, owned, ok = idle.take("s")
	assert.Same(t, o, owned)
	assert.False(t, ok, "an idle stream's entry keeps no older shared snapshot beside its owned state")
	_, ok = idle.get("s")
	assert.False(t, ok, "so a reader meanwhile reads the stream from its start")
	idle.giveBack("s", o, false)
	got, ok = idle.get("s")
	require.True(t, ok)
	assert.Equal(t, o.snap, got, "and between batches gets the owned state")
}
