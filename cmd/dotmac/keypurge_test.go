package main

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/eventstore"
)

// purgingKeys is an eventstore.KeyRecorder holding n expired keys, purged limit at a time.
type purgingKeys struct {
	eventstore.KeyRecorder
	mu      sync.Mutex
	expired int
	calls   []time.Time // the cutoffs asked
	fail    error
}

func (p *purgingKeys) PurgeKeys(_ context.Context, before time.Time, limit int) (int64, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls = append(p.calls, before)
	if p.fail != nil {
		return 0, p.fail
	}
	n := min(p.expired, limit)
	p.expired -= n
	return int64(n), nil
}

func (p *purgingKeys) state() (int, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.expired, len(p.calls)
}

// TestAppendKeyPurgerDeletesInBatches: each tick purges the keys older than the retention in
// batches until one comes back short, and reports a failure without stopping.
func TestAppendKeyPurgerDeletesInBatches(t *testing.T) {
	t.Parallel()
	keys := &purgingKeys{expired: 2*appendKeyPurgeRows + 10}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errs := make(chan error, 10)
	go runAppendKeyPurger(ctx, keys, 48*time.Hour, time.Millisecond, func(err error) { errs <- err })
	require.Eventually(t, func() bool { left, _ := keys.state(); return left == 0 }, 10*time.Second, time.Millisecond)
	keys.mu.Lock()
	first := keys.calls[0]
	keys.mu.Unlock()
	assert.WithinDuration(t, time.Now().Add(-48*time.Hour), first, time.Minute, "the cutoff is the retention ago")

	keys.mu.Lock()
	keys.fail = errors.New("down")
	keys.mu.Unlock()
	select {
	case err := <-errs:
		require.EqualError(t, err, "down")
	case <-time.After(10 * time.Second):
		t.Fatal("the failure was not reported")
	}
}
