package audit_test

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/audit"
	"github.com/dotmac/ledger/internal/gctune"
)

// BenchmarkVerify verifies a generated history (AUDIT_BENCH_CUSTOMERS customers over 12
// months, default 500: about 19,000 events) and reports events/s, as `dotmac audit verify`
// runs (GOGC 400 unless set).
//
//	go test -run '^$' -bench Verify -benchtime 10x -cpuprofile /tmp/verify.pprof ./audit/
func BenchmarkVerify(b *testing.B) {
	customers := 500
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_CUSTOMERS")); err == nil && v > 0 {
		customers = v
	}
	store, _ := seeded(b, customers, 12)
	defer gctune.Batch()()
	a := audit.New(store)
	for _, deep := range []bool{false, true} {
		name := "ledger"
		if deep {
			name = "deep"
		}
		b.Run(name, func(b *testing.B) {
			events := 0
			for b.Loop() {
				r, err := a.Verify(context.Background(), audit.VerifyOptions{DensePositions: true, Deep: deep})
				require.NoError(b, err)
				require.True(b, r.OK)
				events += r.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkVerifySigned is BenchmarkVerify (ledger checks) with every event under a signed
// checkpoint, checked with the public key: the cost of the checkpoints on top of the chains.
func BenchmarkVerifySigned(b *testing.B) {
	customers := 500
	if v, err := strconv.Atoi(os.Getenv("AUDIT_BENCH_CUSTOMERS")); err == nil && v > 0 {
		customers = v
	}
	a := newAnchored(b, customers, 12)
	start := time.Now()
	signed := a.sign(b)
	b.Logf("signed %d checkpoint(s) up to position %d in %s", len(signed), signed[len(signed)-1].Position, time.Since(start))
	defer gctune.Batch()()
	for _, cps := range []bool{false, true} {
		name := "unsigned"
		o := audit.VerifyOptions{DensePositions: true}
		if cps {
			name, o.Checkpoints, o.PublicKeys = "signed", a.cps, a.key.PublicKeys()
		}
		b.Run(name, func(b *testing.B) {
			events := 0
			for b.Loop() {
				r, err := audit.New(a.store).Verify(context.Background(), o)
				require.NoError(b, err)
				require.True(b, r.OK)
				events += r.Events
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}
