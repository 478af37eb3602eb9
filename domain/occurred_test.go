package domain_test

import (
	"testing"
	"time"

	"github.com/dotmac/ledger/domain"
)

// TestEveryEventIsTimed: auditors' as-of-a-date needs every event's business instant.
func TestEveryEventIsTimed(t *testing.T) {
	for _, e := range domain.AllEvents() {
		if _, ok := e.(domain.Timed); !ok {
			t.Errorf("%s does not implement domain.Timed", e.EventType())
		}
	}
	at := time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)
	if got := domain.OccurredAt(domain.PaymentRecorded{RecordedAt: at}); !got.Equal(at) {
		t.Errorf("OccurredAt(PaymentRecorded) = %v, want %v", got, at)
	}
	if got := domain.OccurredAt(nil); !got.IsZero() {
		t.Errorf("OccurredAt(nil) = %v, want zero", got)
	}
}

// TestPostsToJournal: every event of sampleEvents that posts an entry has a type
// PostsToJournal names, and no other type does.
func TestPostsToJournal(t *testing.T) {
	posting := map[string]bool{}
	for _, e := range sampleEvents() {
		if _, ok, err := domain.Postings(e); err == nil && ok {
			posting[e.EventType()] = true
		}
	}
	for _, e := range domain.AllEvents() {
		if got, want := domain.PostsToJournal(e.EventType()), posting[e.EventType()]; got != want {
			t.Errorf("PostsToJournal(%s) = %v, but its sample events post: %v", e.EventType(), got, want)
		}
	}
}
