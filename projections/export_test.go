package projections

import (
	"context"
	"time"
)

// SetPause replaces how a live handler pauses between batches (see pace.go): f is called
// with the pause's length and the channel a waiter's demand closes, and returns when the
// pause ends.
func SetPause(o *Options, f func(ctx context.Context, d time.Duration, rise <-chan struct{})) {
	o.pause = f
}

// NotifyChannel is the channel on which app's projections announce their checkpoints.
func NotifyChannel(app string) string { return notifyChannel(app) }

// PartLockKey is the advisory lock a live batch of partition k of projection name holds
// (with the projection's, shared) in app's runtime.
func PartLockKey(app, name string, k int) int64 { return partLockKeyOf(app, name, k) }
