// Package quantile computes quantiles of latencies by nearest rank, the definition the
// admission controller and the bench's reports share.
package quantile

import (
	"math"
	"slices"
	"time"
)

// Of is the q-quantile of ds by nearest rank (the smallest value at least a fraction q of ds
// is at or below), sorting ds in place; 0 for none.
func Of(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[max(0, min(len(ds)-1, int(math.Ceil(q*float64(len(ds))))-1))]
}
