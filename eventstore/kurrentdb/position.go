package kurrentdb

import (
	"cmp"
	"errors"
	"fmt"
	"math"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"

	"github.com/dotmac/ledger/eventstore"
)

// noPosition is what KurrentDB reports (as uint64(-1)) for an event whose $all position it
// does not know: stream reads on servers older than 22.6, and events written inside an
// explicit transaction (legacy TCP API only).
const noPosition = math.MaxUint64

var (
	// errNoPosition: the server did not report the event's $all position.
	errNoPosition = errors.New("the server reported no $all position for the event (EventStoreDB older than 22.10?)")
	// errSplitPosition: commit and prepare positions differ, which only events written in an
	// explicit transaction (legacy TCP API) have; one number cannot order those.
	errSplitPosition = errors.New("commit and prepare positions differ (event written in an explicit transaction by another client)")
)

// toPosition maps a KurrentDB $all position to eventstore.Position.
//
// Every event appended through gRPC (and so every event this backend writes) is its own
// implicitly committed prepare record: its commit and prepare positions are both the byte
// offset of that record in the transaction log. Offsets are unique and grow in log order,
// which is $all order, so the single number is lossless. Positions that are not of that
// shape are refused rather than rounded.
func toPosition(p esdb.Position) (eventstore.Position, error) {
	switch {
	case p.Commit == noPosition || p.Prepare == noPosition:
		return 0, errNoPosition
	case p.Commit != p.Prepare:
		return 0, fmt.Errorf("position (C:%d/P:%d): %w", p.Commit, p.Prepare, errSplitPosition)
	case p.Commit == 0:
		return 0, fmt.Errorf("position (C:0/P:0): %w", errNoPosition) // offset 0 holds the log header, never an event
	}
	return eventstore.Position(p.Commit), nil
}

// fromPosition is where a read or subscription that resumes after p starts: the start of $all
// for 0, else the event at p (reads include it and the caller skips it; subscriptions start
// after it).
func fromPosition(p eventstore.Position) esdb.AllPosition {
	if p == 0 {
		return esdb.Start{}
	}
	return esdb.Position{Commit: uint64(p), Prepare: uint64(p)}
}

// comparePositions orders two $all positions as KurrentDB does: by commit, then prepare.
func comparePositions(a, b esdb.Position) int {
	if c := cmp.Compare(a.Commit, b.Commit); c != 0 {
		return c
	}
	return cmp.Compare(a.Prepare, b.Prepare)
}

// Versions are 1-based (the first event of a stream is version 1); KurrentDB revisions are
// 0-based (the first event is revision 0).

// versionOf returns the eventstore version of the event at KurrentDB revision rev.
func versionOf(rev uint64) uint64 { return rev + 1 }

// streamRevisionFor is where a stream read starting at version v (1-based) begins.
func streamRevisionFor(v uint64) esdb.StreamRevision {
	if v == 0 {
		return esdb.Revision(0)
	}
	return esdb.Revision(v - 1)
}

// wireRevision is the expected revision sent with an append to a stream whose last event has
// version tail (0: no events): always exact, so that the hash chain and the versions computed
// from the tail cannot race with another writer.
func wireRevision(tail uint64) esdb.ExpectedRevision {
	if tail == 0 {
		return esdb.NoStream{}
	}
	return esdb.Revision(tail - 1)
}

// planRevision checks the caller's condition against the stream's version as read (tail) and
// returns the exact revision the append must be sent with. Any and StreamExists are resolved
// here, against the tail just read; a conflict on the wire then means the stream moved.
func planRevision(stream string, expected eventstore.ExpectedVersion, tail uint64) (esdb.ExpectedRevision, error) {
	if !expected.Check(tail) {
		return nil, &eventstore.WrongExpectedVersionError{Stream: stream, Expected: expected, Actual: tail}
	}
	return wireRevision(tail), nil
}
