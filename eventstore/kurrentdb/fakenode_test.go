package kurrentdb

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"

	"github.com/EventStore/EventStore-Client-Go/v4/esdb"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/serverfeatures"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/shared"
	"github.com/EventStore/EventStore-Client-Go/v4/protos/streams"
	"github.com/google/uuid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// fakeNode is an in-process stand-in for a single KurrentDB node: the gRPC services the client
// uses (Streams.Append, Streams.Read, ServerFeatures) over an in-memory log, with the server
// behaviour this backend relies on as the KurrentDB documentation and source describe it:
// implicit-transaction positions (commit = prepare = the record's log offset), 0-based
// revisions, exact-revision idempotency, stream-not-found, inclusive $all reads, exclusive
// filtered subscriptions with checkpoints. It lets the mapping be exercised end to end through
// the real client where no server runs; it does not replace running the conformance suite
// against a real node (KURRENTDB_URL).
type fakeNode struct {
	streams.UnimplementedStreamsServer
	serverfeatures.UnimplementedServerFeaturesServer

	mu          sync.Mutex
	version     string
	log         []fakeRecord
	byStream    map[string][]int // stream -> indices into log, by revision
	next        uint64           // log offset of the next record
	changed     chan struct{}    // closed and replaced on every write
	noPositions bool             // stream reads without positions, as servers before 22.6

	addr string
	srv  *grpc.Server
	// down holds the node's port while it is stopped, resetting every connection: another
	// test process must not take the port (a client would then reach a stranger and never
	// see the node as down).
	down net.Listener
}

type fakeRecord struct {
	pos    uint64
	stream string
	rev    uint64
	id     uuid.UUID
	meta   map[string]string
	custom []byte
	data   []byte
}

func startFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	n := &fakeNode{version: "25.1.0", byStream: map[string][]int{}, next: 1024, changed: make(chan struct{})}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n.addr = lis.Addr().String()
	n.serve(lis)
	t.Cleanup(func() {
		n.srv.Stop()
		if n.down != nil {
			_ = n.down.Close()
		}
	})
	return n
}

func (n *fakeNode) serve(lis net.Listener) {
	n.srv = grpc.NewServer()
	streams.RegisterStreamsServer(n.srv, n)
	serverfeatures.RegisterServerFeaturesServer(n.srv, n)
	go func() { _ = n.srv.Serve(lis) }()
}

func (n *fakeNode) set(f func(n *fakeNode)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	f(n)
}

// stop takes the node off the network (the log survives); restart brings it back.
// stop stops the node; its port stays taken by a listener that resets every connection,
// until restart or the test's end.
func (n *fakeNode) stop() {
	n.srv.Stop()
	if n.down != nil {
		return
	}
	lis, err := net.Listen("tcp", n.addr)
	if err != nil {
		return // the port went to someone else between the two calls: nothing to hold
	}
	n.down = lis
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as from a port nobody listens on
			}
			_ = c.Close()
		}
	}()
}

func (n *fakeNode) restart(t *testing.T) {
	t.Helper()
	if n.down != nil {
		_ = n.down.Close()
		n.down = nil
	}
	lis, err := net.Listen("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	n.serve(lis)
}

// url is a connection string that gives up on an unreachable node quickly.
func (n *fakeNode) url() string {
	return "esdb://" + n.addr + "?tls=false&maxDiscoverAttempts=2&discoveryInterval=10&gossipTimeout=1"
}

func (n *fakeNode) GetSupportedMethods(context.Context, *shared.Empty) (*serverfeatures.SupportedMethods, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return &serverfeatures.SupportedMethods{EventStoreServerVersion: n.version}, nil
}

// writeSystem appends a KurrentDB-owned event (as the stats collector or a projection would).
func (n *fakeNode) writeSystem(stream, typ string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.write(stream, []*streams.AppendReq_ProposedMessage{{
		Id:       &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}},
		Metadata: map[string]string{"type": typ, "content-type": "application/json"},
		Data:     []byte(`{}`),
	}})
}

// writeForeign appends a plain event with someone else's metadata.
func (n *fakeNode) writeForeign(stream string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.write(stream, []*streams.AppendReq_ProposedMessage{{
		Id:             &shared.UUID{Value: &shared.UUID_String_{String_: uuid.NewString()}},
		Metadata:       map[string]string{"type": "SomethingElse", "content-type": "application/json"},
		Data:           []byte(`{}`),
		CustomMetadata: []byte(`{"user":"someone"}`),
	}})
}

func (n *fakeNode) Append(srv streams.Streams_AppendServer) error {
	req, err := srv.Recv()
	if err != nil {
		return err
	}
	opts := req.GetOptions()
	if opts == nil {
		return status.Error(codes.InvalidArgument, "options first")
	}
	var msgs []*streams.AppendReq_ProposedMessage
	for {
		req, err := srv.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		msgs = append(msgs, req.GetProposedMessage())
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return srv.SendAndClose(n.appendLocked(string(opts.GetStreamIdentifier().GetStreamName()), opts, msgs))
}

func (n *fakeNode) appendLocked(stream string, opts *streams.AppendReq_Options, msgs []*streams.AppendReq_ProposedMessage) *streams.AppendResp {
	idx := n.byStream[stream]
	cur := int64(len(idx)) - 1 // -1: no stream
	var expected int64
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Any:
		return n.written(n.write(stream, msgs))
	case *streams.AppendReq_Options_StreamExists:
		if cur >= 0 {
			return n.written(n.write(stream, msgs))
		}
		return wrongExpected(cur, opts)
	case *streams.AppendReq_Options_NoStream:
		expected = -1
	case *streams.AppendReq_Options_Revision:
		expected = int64(e.Revision) //nolint:gosec // test revisions are small
	}
	if cur == expected {
		return n.written(n.write(stream, msgs))
	}
	if cur > expected && n.sameIDs(idx, expected+1, msgs) { // idempotent: no position, the first result
		return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
			CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: uint64(expected) + uint64(len(msgs))}, //nolint:gosec // small
			PositionOption:        &streams.AppendResp_Success_NoPosition{NoPosition: &shared.Empty{}},
		}}}
	}
	return wrongExpected(cur, opts)
}

func (n *fakeNode) sameIDs(idx []int, from int64, msgs []*streams.AppendReq_ProposedMessage) bool {
	if from+int64(len(msgs)) > int64(len(idx)) {
		return false
	}
	for i, m := range msgs {
		if n.log[idx[from+int64(i)]].id != protoID(m.GetId()) {
			return false
		}
	}
	return true
}

func (n *fakeNode) write(stream string, msgs []*streams.AppendReq_ProposedMessage) *fakeRecord {
	var last *fakeRecord
	for _, m := range msgs {
		meta := map[string]string{"created": "638000000000000000"}
		for k, v := range m.GetMetadata() {
			meta[k] = v
		}
		rec := fakeRecord{pos: n.next, stream: stream, rev: uint64(len(n.byStream[stream])), id: protoID(m.GetId()),
			meta: meta, custom: m.GetCustomMetadata(), data: m.GetData()}
		n.next += 64 + uint64(len(rec.data)+len(rec.custom))
		n.byStream[stream] = append(n.byStream[stream], len(n.log))
		n.log = append(n.log, rec)
		last = &n.log[len(n.log)-1]
	}
	close(n.changed)
	n.changed = make(chan struct{})
	return last
}

func (n *fakeNode) written(last *fakeRecord) *streams.AppendResp {
	return &streams.AppendResp{Result: &streams.AppendResp_Success_{Success: &streams.AppendResp_Success{
		CurrentRevisionOption: &streams.AppendResp_Success_CurrentRevision{CurrentRevision: last.rev},
		PositionOption: &streams.AppendResp_Success_Position{Position: &streams.AppendResp_Position{
			CommitPosition: last.pos, PreparePosition: last.pos}},
	}}}
}

func wrongExpected(cur int64, opts *streams.AppendReq_Options) *streams.AppendResp {
	w := &streams.AppendResp_WrongExpectedVersion{}
	if cur < 0 {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentNoStream{CurrentNoStream: &shared.Empty{}}
	} else {
		w.CurrentRevisionOption = &streams.AppendResp_WrongExpectedVersion_CurrentRevision{CurrentRevision: uint64(cur)}
	}
	switch e := opts.GetExpectedStreamRevision().(type) {
	case *streams.AppendReq_Options_Revision:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedRevision{ExpectedRevision: e.Revision}
	case *streams.AppendReq_Options_NoStream:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedNoStream{ExpectedNoStream: &shared.Empty{}}
	case *streams.AppendReq_Options_StreamExists:
		w.ExpectedRevisionOption = &streams.AppendResp_WrongExpectedVersion_ExpectedStreamExists{ExpectedStreamExists: &shared.Empty{}}
	}
	return &streams.AppendResp{Result: &streams.AppendResp_WrongExpectedVersion_{WrongExpectedVersion: w}}
}

func protoID(id *shared.UUID) uuid.UUID {
	if s := id.GetStructured(); s != nil {
		u, _ := esdb.ParseUUIDFromInt64(s.GetMostSignificantBits(), s.GetLeastSignificantBits())
		return u
	}
	u, _ := uuid.Parse(id.GetString_())
	return u
}
