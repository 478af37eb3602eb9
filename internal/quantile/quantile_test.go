package quantile_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/dotmac/ledger/internal/quantile"
)

func TestOfByNearestRank(t *testing.T) {
	t.Parallel()
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(100-i) * time.Millisecond // unsorted
	}
	for _, tc := range []struct {
		name string
		ds   []time.Duration
		q    float64
		want time.Duration
	}{
		{"none", nil, 0.99, 0},
		{"one", []time.Duration{7}, 0.99, 7},
		{"p99 of 100 is the 99th, not the maximum", hundred, 0.99, 99 * time.Millisecond},
		{"p50 of 100 is the 50th", hundred, 0.5, 50 * time.Millisecond},
		{"p0 is the minimum", hundred, 0, time.Millisecond},
		{"p100 is the maximum", hundred, 1, 100 * time.Millisecond},
		{"p99 of 3 is the largest", []time.Duration{3, 1, 2}, 0.99, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ds := append([]time.Duration(nil), tc.ds...)
			assert.Equal(t, tc.want, quantile.Of(ds, tc.q))
		})
	}
}
