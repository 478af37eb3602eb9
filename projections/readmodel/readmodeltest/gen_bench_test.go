package readmodeltest_test

import (
	"testing"

	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// BenchmarkGenerate: about 100,000 events.
func BenchmarkGenerate(b *testing.B) {
	for range b.N {
		evs, err := readmodeltest.Generate(readmodeltest.Config{Customers: 2600, Months: 12, Seed: 1, WithData: true})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(evs)), "events")
	}
}
