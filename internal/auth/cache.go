package auth

import (
	"slices"
	"sync"
	"time"
)

// verifiedCacheSize bounds how many distinct tokens a Key remembers having verified. A portal
// or an integration sends the same token on every request until it expires, so a few thousand
// cover every caller of a busy server; the cost is the token's bytes and its principal each.
const verifiedCacheSize = 4096

// verified remembers tokens that passed Verify, keyed by their exact bytes, so a token seen
// again skips the signature and the JSON of its claims (an HS256 check and three JSON decodes
// per request, 12 % of the server's CPU while the portal reads during a billing run). Only
// what can change with time is checked again: the expiry. Everything else Verify checks is a
// function of the token's bytes and the Key, which never changes (a new secret or policy is a
// new Key with its own cache).
type verified struct {
	mu      sync.Mutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	p   Principal
	exp time.Time
}

func newVerified() *verified { return &verified{entries: make(map[string]verifiedEntry)} }

// get returns the principal of raw if it was verified and is still unexpired at now, given
// the leeway the parser allows on exp; an expired entry is dropped.
func (v *verified) get(raw string, now time.Time, leeway time.Duration) (Principal, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	e, ok := v.entries[raw]
	if !ok {
		return Principal{}, false
	}
	if !now.Before(e.exp.Add(leeway)) {
		delete(v.entries, raw)
		return Principal{}, false
	}
	return clonePrincipal(e.p), true
}

// put remembers raw's principal until exp. When the cache is full it first drops the expired
// entries and then, if still full, an arbitrary half, so it stays bounded whatever callers send.
func (v *verified) put(raw string, p Principal, exp, now time.Time, leeway time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= verifiedCacheSize {
		for k, e := range v.entries {
			if !now.Before(e.exp.Add(leeway)) {
				delete(v.entries, k)
			}
		}
		for k := range v.entries {
			if len(v.entries) < verifiedCacheSize/2 {
				break
			}
			delete(v.entries, k)
		}
	}
	v.entries[raw] = verifiedEntry{p: clonePrincipal(p), exp: exp}
}

func (v *verified) len() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.entries)
}

// clonePrincipal gives each caller its own permissions slice, so no handler can change
// another request's principal.
func clonePrincipal(p Principal) Principal {
	p.Permissions = slices.Clone(p.Permissions)
	return p
}
