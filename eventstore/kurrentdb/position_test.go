package kurrentdb

import (
	"slices"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// Positions, versions and expected revisions: the mapping between the port's numbers and
// KurrentDB's. No server needed.

func TestToPosition(t *testing.T) {
	tests := []struct {
		name string
		in   esdb.Position
		want eventstore.Position
		err  error
	}{
		{"implicit transaction", esdb.Position{Commit: 4242, Prepare: 4242}, 4242, nil},
		{"large offset", esdb.Position{Commit: 1 << 40, Prepare: 1 << 40}, 1 << 40, nil},
		{"explicit transaction", esdb.Position{Commit: 5000, Prepare: 4100}, 0, errSplitPosition},
		{"no position (old server)", esdb.Position{Commit: noPosition, Prepare: noPosition}, 0, errNoPosition},
		{"half unknown", esdb.Position{Commit: 10, Prepare: noPosition}, 0, errNoPosition},
		{"zero", esdb.Position{}, 0, errNoPosition},
	}
	for _, tc := range tests {
		got, err := toPosition(tc.in)
		if tc.err != nil {
			assert.ErrorIs(t, err, tc.err, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}

func TestFromPosition(t *testing.T) {
	assert.Equal(t, esdb.Start{}, fromPosition(0), "0 is before the first event")
	assert.Equal(t, esdb.Position{Commit: 77, Prepare: 77}, fromPosition(77))
	// Round trip: every position this backend hands out resumes at the same log record.
	for _, p := range []eventstore.Position{1, 1024, 1 << 33, 1<<62 + 7} {
		from, ok := fromPosition(p).(esdb.Position)
		require.True(t, ok)
		back, err := toPosition(from)
		require.NoError(t, err)
		assert.Equal(t, p, back)
	}
}

func TestPositionOrderMatchesAllOrder(t *testing.T) {
	// $all order is (commit, prepare); for the positions we accept that is the order of the
	// single number, so sorting by either gives the same sequence.
	raw := []esdb.Position{{Commit: 900, Prepare: 900}, {Commit: 1024, Prepare: 1024}, {Commit: 88, Prepare: 88}, {Commit: 5000, Prepare: 5000}}
	byClient := slices.Clone(raw)
	slices.SortFunc(byClient, comparePositions)
	ours := make([]eventstore.Position, len(raw))
	for i := range raw {
		p, err := toPosition(raw[i])
		require.NoError(t, err)
		ours[i] = p
	}
	slices.Sort(ours)
	for i := range ours {
		assert.Equal(t, byClient[i].Commit, uint64(ours[i]))
	}
	assert.Negative(t, comparePositions(esdb.Position{Commit: 5, Prepare: 1}, esdb.Position{Commit: 5, Prepare: 2}), "prepare breaks commit ties")
	assert.Zero(t, comparePositions(esdb.Position{Commit: 5, Prepare: 5}, esdb.Position{Commit: 5, Prepare: 5}))
}

func TestVersionsAndRevisions(t *testing.T) {
	assert.Equal(t, uint64(1), versionOf(0), "revision 0 is version 1")
	assert.Equal(t, uint64(10), versionOf(9))
	assert.Equal(t, esdb.Revision(0), streamRevisionFor(1))
	assert.Equal(t, esdb.Revision(0), streamRevisionFor(0), "from 0 reads from the start")
	assert.Equal(t, esdb.Revision(41), streamRevisionFor(42))
	assert.Equal(t, esdb.NoStream{}, wireRevision(0))
	assert.Equal(t, esdb.Revision(2), wireRevision(3))
}

func TestPlanRevision(t *testing.T) {
	tests := []struct {
		name     string
		expected eventstore.ExpectedVersion
		tail     uint64 // the stream's version as read (0: no events)
		want     esdb.ExpectedRevision
	}{
		{"any on empty", eventstore.Any(), 0, esdb.NoStream{}},
		{"any on existing", eventstore.Any(), 5, esdb.Revision(4)},
		{"no stream on empty", eventstore.NoStream(), 0, esdb.NoStream{}},
		{"no stream on existing", eventstore.NoStream(), 2, nil},
		{"stream exists on empty", eventstore.StreamExists(), 0, nil},
		{"stream exists on existing", eventstore.StreamExists(), 1, esdb.Revision(0)},
		{"exact 0 on empty", eventstore.Exact(0), 0, esdb.NoStream{}},
		{"exact 1 on empty", eventstore.Exact(1), 0, nil},
		{"exact match", eventstore.Exact(3), 3, esdb.Revision(2)},
		{"exact behind", eventstore.Exact(2), 3, nil},
		{"exact ahead", eventstore.Exact(99), 3, nil},
	}
	for _, tc := range tests {
		got, err := planRevision("s-1", tc.expected, tc.tail)
		if tc.want == nil {
			var wev *eventstore.WrongExpectedVersionError
			require.ErrorAs(t, err, &wev, tc.name)
			assert.ErrorIs(t, err, eventstore.ErrWrongExpectedVersion, tc.name)
			assert.Equal(t, eventstore.WrongExpectedVersionError{Stream: "s-1", Expected: tc.expected, Actual: tc.tail}, *wev, tc.name)
			continue
		}
		require.NoError(t, err, tc.name)
		assert.Equal(t, tc.want, got, tc.name)
	}
}
