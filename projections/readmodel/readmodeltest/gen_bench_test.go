package readmodeltest_test

import (
	"testing"

	"github.com/dotmac/ledger/domain/domainsim"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
)

// BenchmarkGenerate: about 100,000 events.
func BenchmarkGenerate(b *testing.B) {
	for range b.N {
		evs, err := readmodeltest.Generate(domainsim.Config{Customers: domainsim.CustomersFor(100_000, 12), Months: 12, Seed: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(evs)), "events")
	}
}
