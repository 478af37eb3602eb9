package postgres

import (
	"testing"

	"github.com/dotmac/ledger/eventstore"
)

// TestGrowIsGeometric: a read of a few hundred events into a page of 1,000 allocates room for
// a few hundred, not for the page; a bulk read still reaches its capacity in few copies.
func TestGrowIsGeometric(t *testing.T) {
	out := make([]eventstore.Envelope, 0, 64)
	copies := 0
	for range 200 {
		if len(out) == cap(out) {
			copies++
		}
		out = append(grow(out, 1000), eventstore.Envelope{})
	}
	if cap(out) > 256 {
		t.Fatalf("200 envelopes of a page of 1,000: capacity %d, want at most 256", cap(out))
	}
	for range 800 {
		if len(out) == cap(out) {
			copies++
		}
		out = append(grow(out, 1000), eventstore.Envelope{})
	}
	if cap(out) != 1000 || copies > 3 {
		t.Fatalf("1,000 envelopes: capacity %d after %d copies, want 1,000 after at most 3", cap(out), copies)
	}
}
