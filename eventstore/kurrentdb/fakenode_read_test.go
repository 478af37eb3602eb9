package kurrentdb

import (
	"regexp"
	"strings"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func (n *fakeNode) Read(req *streams.ReadReq, srv streams.Streams_ReadServer) error {
	o := req.GetOptions()
	if o.GetSubscription() != nil {
		return n.subscribe(o, srv)
	}
	n.mu.Lock()
	recs, found := n.selectLocked(o)
	noPos := n.noPositions
	n.mu.Unlock()
	if !found {
		return srv.Send(&streams.ReadResp{Content: &streams.ReadResp_StreamNotFound_{StreamNotFound: &streams.ReadResp_StreamNotFound{
			StreamIdentifier: o.GetStream().GetStreamIdentifier()}}})
	}
	for i := range recs {
		if err := srv.Send(event(&recs[i], noPos && o.GetAll() == nil)); err != nil {
			return err
		}
	}
	return nil
}

// selectLocked picks the records a (non-subscription) read returns.
func (n *fakeNode) selectLocked(o *streams.ReadReq_Options) ([]fakeRecord, bool) {
	count := int(o.GetCount()) //nolint:gosec // test counts are small
	back := o.GetReadDirection() == streams.ReadReq_Options_Backwards
	var order []int
	if s := o.GetStream(); s != nil {
		idx := n.byStream[string(s.GetStreamIdentifier().GetStreamName())]
		if len(idx) == 0 {
			return nil, false
		}
		start := 0
		switch {
		case s.GetEnd() != nil:
			start = len(idx) - 1
		case s.GetStart() == nil:
			start = int(s.GetRevision()) //nolint:gosec // small
		}
		order = walk(idx, min(start, len(idx)-1), start, back)
	} else {
		all := make([]int, len(n.log))
		for i := range all {
			all[i] = i
		}
		start := n.allStart(o.GetAll(), back)
		order = walk(all, start, start, back)
	}
	out := []fakeRecord{}
	for _, i := range order {
		if len(out) == count {
			break
		}
		out = append(out, n.log[i])
	}
	return out, true
}

// walk lists idx from start (forwards: from fwdStart, which may be past the end).
func walk(idx []int, backStart, fwdStart int, back bool) []int {
	var out []int
	if back {
		for i := backStart; i >= 0; i-- {
			out = append(out, idx[i])
		}
		return out
	}
	for i := fwdStart; i < len(idx); i++ {
		out = append(out, idx[i])
	}
	return out
}

// allStart is the log index a $all read starts at: forwards the first record at or after the
// position (inclusive), backwards the last one before it.
func (n *fakeNode) allStart(a *streams.ReadReq_Options_AllOptions, back bool) int {
	switch {
	case a.GetStart() != nil:
		if back {
			return -1
		}
		return 0
	case a.GetEnd() != nil:
		if back {
			return len(n.log) - 1
		}
		return len(n.log)
	}
	p := a.GetPosition().GetCommitPosition()
	for i := range n.log {
		if n.log[i].pos >= p {
			if back {
				return i - 1
			}
			return i
		}
	}
	if back {
		return len(n.log) - 1
	}
	return len(n.log)
}

// event is a record as a read returns it; noPos leaves its $all position out.
func event(r *fakeRecord, noPos bool) *streams.ReadResp {
	commit, prepare := r.pos, r.pos
	if noPos {
		commit, prepare = noPosition, noPosition
	}
	most, least := esdb.UUIDAsInt64(r.id)
	return &streams.ReadResp{Content: &streams.ReadResp_Event{Event: &streams.ReadResp_ReadEvent{
		Event: &streams.ReadResp_ReadEvent_RecordedEvent{
			Id:               &shared.UUID{Value: &shared.UUID_Structured_{Structured: &shared.UUID_Structured{MostSignificantBits: most, LeastSignificantBits: least}}},
			StreamIdentifier: &shared.StreamIdentifier{StreamName: []byte(r.stream)},
			StreamRevision:   r.rev, CommitPosition: commit, PreparePosition: prepare,
			Metadata: r.meta, CustomMetadata: r.custom, Data: r.data,
		},
		Position: &streams.ReadResp_ReadEvent_CommitPosition{CommitPosition: commit},
	}}}
}

// subscribe serves a catch-up subscription to $all: confirmation, the events after the start
// position (exclusive) that pass the filter, a checkpoint after each batch, then live events.
func (n *fakeNode) subscribe(o *streams.ReadReq_Options, srv streams.Streams_ReadServer) error {
	if o.GetAll() == nil {
		return status.Error(codes.Unimplemented, "the fake node subscribes to $all only")
	}
	match, err := filterOf(o.GetFilter())
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Confirmation{Confirmation: &streams.ReadResp_SubscriptionConfirmation{SubscriptionId: uuid.NewString()}}}); err != nil {
		return err
	}
	n.mu.Lock()
	next := n.allStart(o.GetAll(), false)
	if p := o.GetAll().GetPosition(); p != nil && next < len(n.log) && n.log[next].pos == p.GetCommitPosition() {
		next++ // exclusive
	}
	n.mu.Unlock()
	for {
		n.mu.Lock()
		batch := append([]fakeRecord(nil), n.log[next:]...)
		next = len(n.log)
		changed := n.changed
		n.mu.Unlock()
		for i := range batch {
			if match(&batch[i]) {
				if err := srv.Send(event(&batch[i], false)); err != nil {
					return err
				}
			}
		}
		if len(batch) > 0 {
			last := batch[len(batch)-1].pos
			if err := srv.Send(&streams.ReadResp{Content: &streams.ReadResp_Checkpoint_{Checkpoint: &streams.ReadResp_Checkpoint{CommitPosition: last, PreparePosition: last}}}); err != nil {
				return err
			}
		}
		select {
		case <-changed:
		case <-srv.Context().Done():
			return srv.Context().Err()
		}
	}
}

func filterOf(f *streams.ReadReq_Options_FilterOptions) (func(*fakeRecord) bool, error) {
	if f == nil {
		return func(*fakeRecord) bool { return true }, nil
	}
	expr, onStream := f.GetStreamIdentifier(), true
	if expr == nil {
		expr, onStream = f.GetEventType(), false
	}
	re, err := regexp.Compile(expr.GetRegex())
	if err != nil {
		return nil, err
	}
	return func(r *fakeRecord) bool {
		subject := r.meta["type"]
		if onStream {
			subject = r.stream
		}
		if len(expr.GetPrefix()) > 0 {
			for _, p := range expr.GetPrefix() {
				if strings.HasPrefix(subject, p) {
					return true
				}
			}
			return false
		}
		return re.MatchString(subject)
	}, nil
}
