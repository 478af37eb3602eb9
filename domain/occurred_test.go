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
