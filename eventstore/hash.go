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
	sum := ChainSum(prev, e)
	return sum[:]
}

// ChainSum is ChainHash as an array, for callers that check or keep many hashes without
// allocating one for each.
func ChainSum(prev []byte, e *Envelope) [HashSize]byte {
	// One contiguous buffer hashed at once: most events fit the stack buffer, and a single
	// Sum256 is several times cheaper than a dozen small writes through hash.Hash.
	var stack [2048]byte
	b := append(stack[:0], prev...)
	b = appendCanonical(b, e)
	return sha256.Sum256(b)
}

// CanonicalBytes is the byte layout the hash chain covers, exposed for auditors who want to
// recompute a hash with other tools: a domain tag, then each field length-prefixed
// (big-endian uint32) or fixed-width (big-endian uint64/uint32).
func CanonicalBytes(e *Envelope) []byte {
	return appendCanonical(nil, e)
}

func appendCanonical(b []byte, e *Envelope) []byte {
	//nolint:gosec // lengths are bounded by the append limits; schema versions are validated positive and small
	put32 := func(b []byte, v int) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
	b = append(b, hashDomain...)
	b = put32(b, len(e.StreamID))
	b = append(b, e.StreamID...)
	b = binary.BigEndian.AppendUint64(b, e.Version)
	b = append(b, e.ID[:]...)
	b = put32(b, len(e.Type))
	b = append(b, e.Type...)
	b = put32(b, e.SchemaVersion)
	b = put32(b, len(e.Data))
	b = append(b, e.Data...)
	b = put32(b, len(e.RawMetadata))
	return append(b, e.RawMetadata...)
}
