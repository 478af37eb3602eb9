package webhooks_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/webhooks"
)

// Two processes dispatching from the same tables share the work without sending an event
// twice: each delivery is claimed by one of them.
func TestTwoDispatchersSendEachEventOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	second, err := webhooks.New(e.pool, e.store, testConfig())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = second.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	rc := newReceiver(t, always(http.StatusOK))
	e.register(t, "acme", rc.srv.URL)
	e.run(t)
	const events = 60
	want := map[string]bool{}
	for range events {
		id, _ := e.registerCustomer(t, "acme")
		want[id] = true
	}
	require.Eventually(t, func() bool { return rc.oks() >= events }, waitFor, tick)
	got := map[string]int{}
	for _, r := range rc.requests() {
		got[r.header.Get("webhook-id")]++
	}
	assert.Len(t, got, events)
	for id := range want {
		assert.Equal(t, 1, got[id], id)
	}
}
