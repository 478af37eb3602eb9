// Package gctune sets the garbage collector's target for one-off batch work (a projection
// rebuild, an audit verify, a demo seed): such work allocates a decoded event per event and
// keeps little, so collecting less often buys throughput with memory a one-off process can
// spare. An operator's GOGC always wins.
package gctune

import (
	"os"
	"runtime/debug"
)

// BatchPercent is the GOGC target of batch work.
const BatchPercent = 400

// Batch sets the collector's target to BatchPercent unless GOGC is set, and returns the
// function restoring the previous target.
func Batch() (restore func()) {
	if os.Getenv("GOGC") != "" {
		return func() {}
	}
	prev := debug.SetGCPercent(BatchPercent)
	return func() { debug.SetGCPercent(prev) }
}
