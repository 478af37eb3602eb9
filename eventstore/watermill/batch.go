package watermill

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/dotmac/ledger/eventstore"
)

// Batch messages carry several envelopes in one payload, so a consumer acks (and commits)
// once per batch rather than once per event. The encoding is a private binary layout, not
// JSON: a batch is produced and consumed by this package within one process, and
// re-encoding thousands of JSON payloads as JSON strings would cost more than the apply.
//
//	byte    format version (batchFormat)
//	uvarint event count
//	per event:
//	  uvarint position, uvarint stream version, uvarint schema version
//	  16 bytes event id
//	  uvarint length + bytes: stream id, type, data, metadata (as stored), hash
const batchFormat byte = 1

// MaxBatchEvents bounds the events one batch message may carry.
const MaxBatchEvents = 50_000

// ErrBadBatch is returned by DecodeBatch for a payload it did not produce.
var ErrBadBatch = errors.New("not a batch payload")

// envelopesKey is the context key under which a Subscriber's batch message carries its
// events (see Envelopes).
type envelopesKey struct{}

// withEnvelopes returns ctx carrying envs as the events of a batch message.
func withEnvelopes(ctx context.Context, envs []eventstore.Envelope) context.Context {
	return context.WithValue(ctx, envelopesKey{}, envs)
}

// moreKey marks a Subscriber's batch message whose events were read together with more that
// follow it: the subscriber delivers those next, without waiting for the feed.
type moreKey struct{}

// MoreFollows reports whether the subscriber had read, with the events of msg, more events
// that it delivers next. A handler may then leave work for the next message (an idle
// checkpoint move, say); it must not when MoreFollows is false, as nothing may come for a
// long time. False for a message not from a Subscriber.
func MoreFollows(msg *message.Message) bool {
	more, _ := msg.Context().Value(moreKey{}).(bool)
	return more
}

// Envelopes returns the events of a batch message. A Subscriber's batch message carries them
// in memory, in its context, and no payload: they were read and decoded once for every
// subscription of the process (eventstore/postgres's shared stretch of the feed), and
// encoding them into each subscription's payload to decode them again in each handler was a
// fifth of a busy server's allocations. A message built by BatchMessage carries them in its
// payload.
//
// A Subscriber's envelopes are handed out as they are kept, shared with every other
// subscription of the process and with a redelivery of the same message: a handler reads
// them and must not write into them, nor into their byte slices (Data, RawMetadata, Hash).
// Every handler in this repository only reads them (a projection copies each envelope into
// its Event before decoding). The slice has no room beyond its length, so an append makes a
// copy. Copying them for each subscription (about ten per process) was 3 KB of allocation
// per command on a busy server.
func Envelopes(msg *message.Message) ([]eventstore.Envelope, error) {
	if !IsBatch(msg) {
		return nil, fmt.Errorf("%w: message %s has no %s", ErrBadBatch, msg.UUID, MetaBatchEvents)
	}
	if envs, ok := msg.Context().Value(envelopesKey{}).([]eventstore.Envelope); ok {
		return envs[:len(envs):len(envs)], nil
	}
	return DecodeBatch(msg.Payload)
}

// EncodeBatch encodes envelopes for a batch message. It is the inverse of DecodeBatch.
func EncodeBatch(envs []eventstore.Envelope) []byte {
	size := 1 + binary.MaxVarintLen64
	for i := range envs {
		e := &envs[i]
		size += 3*binary.MaxVarintLen64 + 16 + 5*binary.MaxVarintLen32 +
			len(e.StreamID) + len(e.Type) + len(e.Data) + len(e.RawMetadata) + len(e.Hash)
	}
	buf := make([]byte, 0, size)
	buf = append(buf, batchFormat)
	buf = binary.AppendUvarint(buf, uint64(len(envs)))
	for i := range envs {
		e := &envs[i]
		buf = binary.AppendUvarint(buf, uint64(e.Position))
		buf = binary.AppendUvarint(buf, e.Version)
		buf = binary.AppendUvarint(buf, uint64(e.SchemaVersion)) //nolint:gosec // validated positive by the store
		buf = append(buf, e.ID[:]...)
		buf = appendBytes(buf, []byte(e.StreamID))
		buf = appendBytes(buf, []byte(e.Type))
		buf = appendBytes(buf, e.Data)
		buf = appendBytes(buf, e.RawMetadata)
		buf = appendBytes(buf, e.Hash)
	}
	return buf
}

func appendBytes(buf, b []byte) []byte {
	buf = binary.AppendUvarint(buf, uint64(len(b)))
	return append(buf, b...)
}

// DecodeBatch decodes a batch payload. Data, RawMetadata and Hash of the returned envelopes
// share memory with payload; Metadata is decoded from RawMetadata.
func DecodeBatch(payload []byte) ([]eventstore.Envelope, error) {
	r := batchReader{p: payload}
	if len(payload) == 0 || payload[0] != batchFormat {
		return nil, ErrBadBatch
	}
	r.p = r.p[1:]
	n := r.uvarint()
	if r.err != nil || n > MaxBatchEvents {
		return nil, fmt.Errorf("%w: event count %d", ErrBadBatch, n)
	}
	out := make([]eventstore.Envelope, n)
	for i := range out {
		if err := r.envelope(&out[i]); err != nil {
			return nil, fmt.Errorf("%w: event %d: %w", ErrBadBatch, i, err)
		}
	}
	if len(r.p) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadBatch, len(r.p))
	}
	return out, nil
}

type batchReader struct {
	p   []byte
	err error
}

var errTruncated = errors.New("truncated")

func (r *batchReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.p)
	if n <= 0 {
		r.err = errTruncated
		return 0
	}
	r.p = r.p[n:]
	return v
}

func (r *batchReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.p)) {
		r.err = errTruncated
		return nil
	}
	b := r.p[:n:n]
	r.p = r.p[n:]
	return b
}

func (r *batchReader) envelope(e *eventstore.Envelope) error {
	e.Position = eventstore.Position(r.uvarint())
	e.Version = r.uvarint()
	e.SchemaVersion = int(r.uvarint()) //nolint:gosec // bounded by the store's validation
	if r.err == nil && len(r.p) < 16 {
		r.err = errTruncated
	}
	if r.err != nil {
		return r.err
	}
	copy(e.ID[:], r.p[:16])
	r.p = r.p[16:]
	e.StreamID = string(r.bytes())
	e.Type = string(r.bytes())
	e.Data = r.bytes()
	e.RawMetadata = r.bytes()
	e.Hash = r.bytes()
	if r.err != nil {
		return r.err
	}
	md, err := eventstore.DecodeMetadata(e.RawMetadata)
	if err != nil {
		return err
	}
	e.Metadata = md
	return nil
}
