package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/eventstore/codec"
)

// answerStored answers the commands of reqs (their outcomes outs) whose append found their
// event ids stored already: another process ran the same command ids on the same version of
// the stream first. What it stored counts, not what this process decided: run with the same
// command id and other inputs (two invocations of one billing run deciding differently), the
// two decisions differ, and this one's (its invoice number, its run-stream record) was never
// stored. Each command is answered with the events stored under its command id at the version
// it was decided on, with their version and position; one whose first event id is not stored
// is answered with appendErr (ErrDuplicateEventID: stored otherwise, or nil for a store that
// called the append a replay) or, if nil, an invariant error.
func (b *batch[S]) answerStored(ctx context.Context, reqs []*request[S], outs []outcome, appendErr error) {
	var envs []eventstore.Envelope
	var readErr error
	for i, r := range reqs {
		o := outs[i]
		switch {
		case o.err != nil:
			r.finish(Result{}, o.err)
			continue
		case len(o.events) == 0:
			r.finish(Result{Stream: b.stream, Version: o.before, Position: b.snap.position}, nil)
			continue
		}
		if envs == nil && readErr == nil {
			envs, readErr = b.h.store.ReadStream(ctx, b.stream, outs[0].before+1, eventstore.Forwards, eventstore.MaxReadLimit)
		}
		if readErr != nil {
			r.finish(Result{}, fmt.Errorf("read what %s stored: %w", b.stream, readErr))
			continue
		}
		res, found, err := storedRun(envs, r.m, b.stream, o.before)
		switch {
		case err != nil:
			r.finish(Result{}, err)
		case found:
			r.finish(res, nil)
		case appendErr != nil:
			r.finish(Result{}, appendErr)
		default:
			r.finish(Result{}, fmt.Errorf("%w: the store took an append to %s as a replay but holds none of its events", domain.ErrInvariant, b.stream))
		}
	}
}

// storedRun returns the result of the events of envs that command m appended to stream at
// version before: the events right after it whose ids eventID gives m there, in order.
func storedRun(envs []eventstore.Envelope, m Meta, stream string, before uint64) (Result, bool, error) {
	res := Result{Stream: stream}
	for i := range envs {
		if envs[i].Version <= before {
			continue
		}
		if envs[i].ID != eventID(m, stream, before, len(res.Events)) {
			break
		}
		if err := res.addStored(&envs[i]); err != nil {
			return Result{}, false, err
		}
	}
	return res, len(res.Events) > 0, nil
}

// addStored adds env, one of a command's stored events of res.Stream, to res.
func (res *Result) addStored(env *eventstore.Envelope) error {
	e, err := codec.Decode(env)
	if err != nil {
		return &UndecodableError{Stream: res.Stream, Version: env.Version, Err: err}
	}
	res.Events = append(res.Events, e)
	res.Version, res.Position = env.Version, env.Position
	return nil
}

// isDuplicateID reports whether err is the store's ErrDuplicateEventID.
func isDuplicateID(err error) bool { return errors.Is(err, eventstore.ErrDuplicateEventID) }
