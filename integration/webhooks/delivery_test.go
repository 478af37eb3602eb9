package webhooks_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration"
	"github.com/dotmac/ledger/integration/webhooks"
)

const waitFor, tick = 30 * time.Second, 5 * time.Millisecond

// A receiver that fails five times then succeeds gets the event once (one 2xx), every
// attempt with the same webhook-id (the event id) and a signature the Standard Webhooks
// reference library verifies; the delivery log shows the six attempts.
func TestFailingReceiverGetsTheEventOnceWithTheSameID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, func(n int64, _ *http.Request) int {
		if n <= 5 {
			return http.StatusServiceUnavailable
		}
		return http.StatusNoContent
	})
	ep, secret := e.register(t, "acme", rc.srv.URL)
	e.run(t)
	eventID, pos := e.registerCustomer(t, "acme")

	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Status == webhooks.StatusDelivered
	}, waitFor, tick)
	got := rc.requests()
	require.Len(t, got, 6)
	assert.Equal(t, 1, rc.oks())
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	for _, r := range got {
		assert.Equal(t, eventID, r.header.Get("webhook-id"))
		require.NoError(t, wh.Verify(r.body, r.header), "the reference library verifies the signature")
		var ev integration.Event
		require.NoError(t, json.Unmarshal(r.body, &ev))
		assert.Equal(t, eventID, ev.ID)
		assert.Equal(t, "customers.customer_registered", ev.Type)
		assert.Equal(t, "application/cloudevents+json", r.header.Get("Content-Type"))
	}
	tampered := append([]byte(nil), got[5].body...)
	tampered[len(tampered)-2] ^= 1
	require.Error(t, wh.Verify(tampered, got[5].header), "a changed body fails verification")

	d, _ := e.delivery(t, ep, eventID)
	assert.Equal(t, 6, d.Attempts)
	assert.Equal(t, pos, d.Position)
	assert.Nil(t, d.NextAttemptAt)
	require.Len(t, d.Log, 6)
	for i, a := range d.Log {
		assert.Equal(t, i+1, a.N)
		require.NotNil(t, a.StatusCode)
		want := http.StatusServiceUnavailable
		if i == 5 {
			want = http.StatusNoContent
		}
		assert.Equal(t, want, *a.StatusCode)
	}
}

// A delivery still failing when its next attempt would come after MaxAge is marked failed,
// with the receiver's last answer in the log.
func TestDeliveryFailsAfterMaxAge(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	// MaxAge counts from the event, so it also covers the time before the first attempt: a
	// second is room for two attempts 20-40 ms apart even when a loaded machine makes the
	// first one late (200 ms was not, in a fresh clone's make test).
	cfg.MaxAge = time.Second
	cfg.MinBackoff, cfg.MaxBackoff = 20*time.Millisecond, 40*time.Millisecond
	e := newEnv(t, cfg)
	rc := newReceiver(t, always(http.StatusInternalServerError))
	ep, _ := e.register(t, "acme", rc.srv.URL)
	e.run(t)
	eventID, _ := e.registerCustomer(t, "acme")
	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Status == webhooks.StatusFailed
	}, waitFor, tick)
	d, _ := e.delivery(t, ep, eventID)
	assert.GreaterOrEqual(t, d.Attempts, 2)
	assert.Equal(t, d.Attempts, len(rc.requests()))
	require.NotNil(t, d.LastStatus)
	assert.Equal(t, http.StatusInternalServerError, *d.LastStatus)
	assert.Nil(t, d.NextAttemptAt)
}

// A slow endpoint holds at most PerEndpoint workers: another endpoint of the same tenant
// and one of another tenant get all their events while the slow one's requests hang.
func TestSlowEndpointDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig()) // Workers 8, PerEndpoint 2
	release := make(chan struct{})
	slow := newReceiver(t, func(int64, *http.Request) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) }) // runs before the receivers close
	fast := newReceiver(t, always(http.StatusOK))
	other := newReceiver(t, always(http.StatusOK))
	e.register(t, "acme", slow.srv.URL)
	e.register(t, "acme", fast.srv.URL)
	e.register(t, "globex", other.srv.URL)
	e.run(t)
	const events = 20
	for range events {
		e.registerCustomer(t, "acme")
		e.registerCustomer(t, "globex")
	}
	require.Eventually(t, func() bool { return fast.oks() == events && other.oks() == events }, waitFor, tick)
	assert.Empty(t, slow.requests(), "the slow endpoint has answered nothing yet")
	assert.LessOrEqual(t, slow.maxSeen.Load(), int64(2), "at most PerEndpoint requests at once")
}

// A failing endpoint is paused after a failure: its backlog is not tried delivery by
// delivery (it holds no workers while paused), and the query API shows the pause; another
// endpoint of the tenant gets every event meanwhile.
func TestFailingEndpointIsPaused(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.MinBackoff, cfg.MaxBackoff = time.Hour, time.Hour
	e := newEnv(t, cfg)
	var up atomic.Bool
	failing := newReceiver(t, func(int64, *http.Request) int {
		if up.Load() {
			return http.StatusOK
		}
		return http.StatusBadGateway
	})
	healthy := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", failing.srv.URL)
	e.register(t, "acme", healthy.srv.URL)
	e.run(t)
	const events = 10
	for range events {
		e.registerCustomer(t, "acme")
	}
	require.Eventually(t, func() bool { return healthy.oks() == events }, waitFor, tick)
	require.Eventually(t, func() bool {
		got := e.client(t, "acme").get("/v1/webhooks/endpoints/" + ep.ID.String()).json(t)
		return got["paused_until"] != nil
	}, waitFor, tick)
	for range events {
		e.registerCustomer(t, "acme")
	}
	require.Eventually(t, func() bool { return healthy.oks() == 2*events }, waitFor, tick)
	assert.LessOrEqual(t, len(failing.requests()), 2, "at most the first claim's PerEndpoint attempts, then the pause")
	got := e.client(t, "acme").get("/v1/webhooks/endpoints/" + ep.ID.String()).json(t)
	assert.GreaterOrEqual(t, got["consecutive_failures"], float64(1))
	until, _ := got["paused_until"].(string)
	paused, err := time.Parse(time.RFC3339Nano, until)
	require.NoError(t, err)
	assert.True(t, paused.After(time.Now().Add(25*time.Minute)), "paused for about MinBackoff, less up to half")

	// The receiver is fixed and a person redelivers a failed one: that ends the pause, the
	// attempt succeeds, and the backlog never attempted goes out at full speed (a delivery
	// that failed keeps its own backoff).
	up.Store(true)
	// Count the deliveries never attempted only once every request the receiver answered is
	// recorded: the first claim's second attempt may still be in flight (claimed before the
	// pause), its 502 not yet written, and counted as never attempted it would be expected
	// to go out, while it waits for its own backoff. A request that reaches the receiver
	// from now on is answered 200 and delivers what it carries.
	var ds []webhooks.Delivery
	require.Eventually(t, func() bool {
		var err error
		ds, _, err = e.svc.Store().Deliveries(testCtx(t), "acme", ep.ID, "", nil, 100)
		attempts := 0
		for _, d := range ds {
			attempts += d.Attempts
		}
		return err == nil && attempts == len(failing.requests())
	}, waitFor, tick)
	want := map[string]bool{}
	var failed webhooks.Delivery
	for _, d := range ds {
		if d.Attempts == 0 {
			want[d.EventID.String()] = true
		} else {
			failed = d
		}
	}
	require.NotZero(t, failed.Attempts)
	want[failed.EventID.String()] = true
	require.Equal(t, http.StatusAccepted, e.client(t, "acme").post("/v1/webhooks/endpoints/"+ep.ID.String()+
		"/deliveries/"+failed.ID.String()+"/redeliver", nil).status)
	if !assert.Eventually(t, func() bool { return failing.oks() == len(want) }, waitFor, tick) {
		// Say why: which deliveries went out, which did not, and in what state they are.
		now, _, err := e.svc.Store().Deliveries(testCtx(t), "acme", ep.ID, "", nil, 100)
		require.NoError(t, err)
		for _, d := range now {
			last := ""
			if d.LastStatus != nil {
				last += fmt.Sprintf(" last status %d", *d.LastStatus)
			}
			if d.LastError != nil {
				last += " last error " + *d.LastError
			}
			if d.NextAttemptAt != nil {
				last += " next " + d.NextAttemptAt.Format(time.RFC3339Nano)
			}
			t.Logf("delivery %s event %s: %s, %d attempts,%s; expected %v", d.ID, d.EventID, d.Status, d.Attempts, last, want[d.EventID.String()])
		}
		t.Fatalf("the paused endpoint answered %d deliveries OK after the redelivery, want %d (%d listed before it)",
			failing.oks(), len(want), len(ds))
	}
	for _, r := range failing.requests() {
		if r.status == http.StatusOK {
			assert.True(t, want[r.header.Get("webhook-id")])
		}
	}
}
