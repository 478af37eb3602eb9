package eventstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
)

// MaxStreamsPerCall is the most streams one ReadStreams or AppendStreams call may name.
const MaxStreamsPerCall = 10_000

// StreamRead is one stream of a ReadStreams call: its events from version From (at least 1).
type StreamRead struct {
	Stream string
	From   uint64
}

// StreamAppend is one stream's append of an AppendStreams call, as Append takes it.
type StreamAppend struct {
	Stream   string
	Expected ExpectedVersion
	Events   []EventData
}

// AppendOutcome is what one append of an AppendStreams call came to: Append's result and error.
type AppendOutcome struct {
	Result AppendResult
	Err    error
}

// MultiStreamStore is implemented by stores that read and append many streams per call. A
// batch of commands over many streams (a billing run's group of customers) reads them in one
// query and appends them together instead of one round trip per stream. Every backend
// implements it (the conformance suite checks it), natively or stream by stream; callers go
// through the package functions ReadStreams and AppendStreams, which fall back to the Store
// methods for a Store that does not (a wrapper).
type MultiStreamStore interface {
	// ReadStreams returns the events of each stream from its From version forwards, ordered
	// by the reads' order and then by version, at most limit (1 to MaxRangeLimit) in all. A
	// stream without events from From contributes none (no ErrStreamNotFound). When limit
	// cuts the read short, every stream before the last one returned is complete and that
	// last one may not be: read on from it. Streams must be distinct, at most
	// MaxStreamsPerCall.
	ReadStreams(ctx context.Context, reads []StreamRead, limit int) ([]Envelope, error)

	// AppendStreams makes each append as Append would: atomic per stream, under its own
	// expected version, independent of the others (one refused leaves the rest), and returns
	// their outcomes in order. A backend commits them together where it can (PostgreSQL: in
	// one group-commit transaction). Streams must be distinct, at most MaxStreamsPerCall; a
	// call breaking that rule gets an *InvalidInputError in every outcome.
	AppendStreams(ctx context.Context, appends []StreamAppend) []AppendOutcome
}

// ReadStreams is store's MultiStreamStore.ReadStreams, or for a store without it, the same read
// stream by stream.
func ReadStreams(ctx context.Context, store Store, reads []StreamRead, limit int) ([]Envelope, error) {
	if m, ok := store.(MultiStreamStore); ok {
		return m.ReadStreams(ctx, reads, limit)
	}
	return ReadStreamsEach(ctx, store, reads, limit)
}

// AppendStreams is store's MultiStreamStore.AppendStreams, or for a store without it, the same
// appends one by one.
func AppendStreams(ctx context.Context, store Store, appends []StreamAppend) []AppendOutcome {
	if m, ok := store.(MultiStreamStore); ok {
		return m.AppendStreams(ctx, appends)
	}
	return AppendStreamsEach(ctx, store, appends)
}

// ValidateStreamReads checks a ReadStreams call's arguments.
func ValidateStreamReads(reads []StreamRead, limit int) error {
	if limit < 1 || limit > MaxRangeLimit {
		return &InvalidInputError{Field: "limit", Reason: fmt.Sprintf("%d, must be between 1 and %d", limit, MaxRangeLimit)}
	}
	if len(reads) > MaxStreamsPerCall {
		return &InvalidInputError{Field: "reads", Reason: fmt.Sprintf("%d streams, the limit is %d", len(reads), MaxStreamsPerCall)}
	}
	seen := make(map[string]struct{}, len(reads))
	for i, r := range reads {
		if err := ValidateStreamID(r.Stream); err != nil {
			return err
		}
		if r.From < 1 || r.From > 1<<62 {
			return &InvalidInputError{Field: fmt.Sprintf("reads[%d].from", i), Reason: fmt.Sprintf("version %d, must be between 1 and 2^62", r.From)}
		}
		if _, dup := seen[r.Stream]; dup {
			return &InvalidInputError{Field: fmt.Sprintf("reads[%d].stream", i), Reason: "appears twice in one read"}
		}
		seen[r.Stream] = struct{}{}
	}
	return nil
}

// ValidateStreamAppends checks an AppendStreams call's shape (each append is checked as Append
// checks it, on its own).
func ValidateStreamAppends(appends []StreamAppend) error {
	if len(appends) > MaxStreamsPerCall {
		return &InvalidInputError{Field: "appends", Reason: fmt.Sprintf("%d streams, the limit is %d", len(appends), MaxStreamsPerCall)}
	}
	seen := make(map[string]struct{}, len(appends))
	for i, a := range appends {
		if _, dup := seen[a.Stream]; dup {
			return &InvalidInputError{Field: fmt.Sprintf("appends[%d].stream", i), Reason: "appears twice in one call"}
		}
		seen[a.Stream] = struct{}{}
	}
	return nil
}

// FailAll is the outcomes of appends all answered with err.
func FailAll(appends []StreamAppend, err error) []AppendOutcome {
	out := make([]AppendOutcome, len(appends))
	for i := range out {
		out[i].Err = err
	}
	return out
}

// ReadStreamsEach is ReadStreams made of ReadStream calls, one stream after the other (for
// backends with no multi-stream read).
func ReadStreamsEach(ctx context.Context, store Store, reads []StreamRead, limit int) ([]Envelope, error) {
	if err := ValidateStreamReads(reads, limit); err != nil {
		return nil, err
	}
	var out []Envelope
	for _, r := range reads {
		from := r.From
		for len(out) < limit {
			page := min(limit-len(out), MaxReadLimit)
			envs, err := store.ReadStream(ctx, r.Stream, from, Forwards, page)
			if errors.Is(err, ErrStreamNotFound) {
				break
			}
			if err != nil {
				return nil, err
			}
			out = append(out, envs...)
			if len(envs) < page {
				break
			}
			from = envs[len(envs)-1].Version + 1
		}
		if len(out) >= limit {
			break
		}
	}
	return out, nil
}

// appendStreamsAtOnce bounds the Append calls AppendStreamsEach makes at once.
const appendStreamsAtOnce = 16

// AppendStreamsEach is AppendStreams made of Append calls, at most appendStreamsAtOnce at once
// (the streams are distinct: their appends are independent).
func AppendStreamsEach(ctx context.Context, store Store, appends []StreamAppend) []AppendOutcome {
	if err := ValidateStreamAppends(appends); err != nil {
		return FailAll(appends, err)
	}
	out := make([]AppendOutcome, len(appends))
	sem := make(chan struct{}, appendStreamsAtOnce)
	var wg sync.WaitGroup
	for i, a := range appends {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i].Result, out[i].Err = store.Append(ctx, a.Stream, a.Expected, a.Events...)
		})
	}
	wg.Wait()
	return out
}
