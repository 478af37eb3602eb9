package domain_test

import (
	"testing"

	"github.com/dotmac/ledger/domain"
)

// BenchmarkRecurringCharges works out a bill day's invoice for one customer: one service on a
// plan since January, billed through May, June not billed yet.
func BenchmarkRecurringCharges(b *testing.B) {
	l := newLedger(b)
	l.subscribe(1, "home_200", "2026-01-10")
	for _, p := range []string{"2026-01", "2026-02", "2026-03", "2026-04", "2026-05"} {
		l.run(p)
	}
	a, services := l.state(), l.serviceStates()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := domain.RecurringCharges(period("2026-06"), a, services); err != nil {
			b.Fatal(err)
		}
	}
}
