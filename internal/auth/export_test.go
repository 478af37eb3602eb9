package auth

import "time"

// WithClock returns k reading the time from now, for expiry tests.
func (k *Key) WithClock(now func() time.Time) *Key {
	out := *k
	out.now = now
	out.seen = newVerified()
	return &out
}

// Remembered is how many tokens k remembers having verified.
func (k *Key) Remembered() int { return k.seen.len() }

const VerifiedCacheSize = verifiedCacheSize
