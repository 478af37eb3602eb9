package eventstore

import (
	"crypto/sha256"
	"encoding/binary"
)

// hashDomain separates these hashes from any other SHA-256 use; bump it only with a new
// canonical layout (and keep the old one for verifying old events).
const hashDomain = "dotmac.event.v1\n"

// HashSize is the size of an event hash in bytes.
const HashSize = sha256.Size

// ChainHash returns SHA-256(prev || CanonicalBytes(e)): the hash of event e given the hash of
// the event before it in its stream (nil or empty for the first event).
//
// The hash covers the stream id, version, event id, type, schema version, data and metadata
// (which holds the recorded-at time) exactly as stored, so changing any of them, deleting an
// event or swapping two events breaks the chain from that point on. The global position is
// not covered: it is assigned by the backend after the hash is fixed (KurrentDB assigns it on
// commit).
func ChainHash(prev []byte, e *Envelope) []byte {
	h := sha256.New()
	h.Write(prev)
	writeCanonical(h, e)
	return h.Sum(nil)
}

// CanonicalBytes is the byte layout the hash chain covers, exposed for auditors who want to
// recompute a hash with other tools: a domain tag, then each field length-prefixed
// (big-endian uint32) or fixed-width (big-endian uint64/uint32).
func CanonicalBytes(e *Envelope) []byte {
	var b byteSink
	writeCanonical(&b, e)
	return b
}

type byteSink []byte

func (b *byteSink) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

func writeCanonical(w interface{ Write([]byte) (int, error) }, e *Envelope) {
	var n [8]byte
	put32 := func(v uint32) { binary.BigEndian.PutUint32(n[:4], v); _, _ = w.Write(n[:4]) }
	bytesField := func(p []byte) { put32(uint32(len(p))); _, _ = w.Write(p) } //nolint:gosec // lengths are bounded by the append limits
	_, _ = w.Write([]byte(hashDomain))
	bytesField([]byte(e.StreamID))
	binary.BigEndian.PutUint64(n[:], e.Version)
	_, _ = w.Write(n[:])
	_, _ = w.Write(e.ID[:])
	bytesField([]byte(e.Type))
	put32(uint32(e.SchemaVersion)) //nolint:gosec // schema versions are validated positive and small
	bytesField(e.Data)
	bytesField(e.RawMetadata)
}
