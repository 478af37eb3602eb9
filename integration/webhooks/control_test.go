package webhooks_test

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/integration/webhooks"
)

// A disabled endpoint gets no new deliveries, and its pending ones are not attempted while
// another endpoint's later ones are; enabled again, it gets its pending delivery.
func TestDisabledEndpointStops(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	off := newReceiver(t, always(http.StatusOK))
	on := newReceiver(t, always(http.StatusOK))
	epOff, _ := e.register(t, "acme", off.srv.URL)
	e.register(t, "acme", on.srv.URL)
	c := e.client(t, "acme")
	base := "/v1/webhooks/endpoints/" + epOff.ID.String()

	// A pending delivery, enqueued while enabled and the dispatcher was not running.
	require.NoError(t, e.svc.CatchUp(testCtx(t)))
	pendingID, _ := e.registerCustomer(t, "acme")
	require.NoError(t, e.svc.CatchUp(testCtx(t)))
	_, ok := e.delivery(t, epOff, pendingID)
	require.True(t, ok, "fanned out while enabled")
	disabled := c.post(base+"/disable", nil)
	require.Equal(t, http.StatusOK, disabled.status)
	assert.Equal(t, false, disabled.json(t)["enabled"])

	e.run(t)
	laterID, _ := e.registerCustomer(t, "acme")
	require.Eventually(t, func() bool { return on.oks() == 2 }, waitFor, tick)
	require.NoError(t, e.svc.CatchUp(testCtx(t)))
	assert.Empty(t, off.requests(), "nothing is sent to a disabled endpoint")
	_, ok = e.delivery(t, epOff, laterID)
	assert.False(t, ok, "a disabled endpoint gets no new deliveries")
	d, _ := e.delivery(t, epOff, pendingID)
	assert.Equal(t, webhooks.StatusPending, d.Status)
	assert.Equal(t, 0, d.Attempts)

	require.Equal(t, http.StatusOK, c.post(base+"/enable", nil).status)
	require.Eventually(t, func() bool { return off.oks() == 1 }, waitFor, tick)
	assert.Equal(t, pendingID, off.requests()[0].header.Get("webhook-id"))
}

// Redeliver sends one delivery again with the same webhook-id; replay from a position sends
// every matching event after it again, and the log counts every attempt.
func TestRedeliverAndReplay(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", rc.srv.URL, "customers.customer_registered")
	e.run(t)
	first, _ := e.registerCustomer(t, "acme")
	second, pos2 := e.registerCustomer(t, "acme")
	e.registerCustomer(t, "globex") // another tenant's event is never replayed to acme
	e.waitDelivered(t, ep, first, 1)
	e.waitDelivered(t, ep, second, 1)

	c := e.client(t, "acme")
	base := "/v1/webhooks/endpoints/" + ep.ID.String()
	d, _ := e.delivery(t, ep, first)
	require.Equal(t, http.StatusAccepted, c.post(base+"/deliveries/"+d.ID.String()+"/redeliver", nil).status)
	e.waitDelivered(t, ep, first, 2)
	assert.Equal(t, first, rc.requests()[2].header.Get("webhook-id"))

	// Replay after the first event's position: only the second again.
	replay := c.post(base+"/replay", map[string]any{"from_position": uint64(pos2) - 1})
	require.Equal(t, http.StatusAccepted, replay.status, "%s", replay.body)
	assert.InDelta(t, 1, replay.json(t)["enqueued"], 0)
	assert.Nil(t, replay.json(t)["next_position"])
	e.waitDelivered(t, ep, second, 2)
	assert.Equal(t, second, rc.requests()[3].header.Get("webhook-id"))

	// Replay from 0: both again.
	require.Equal(t, http.StatusAccepted, c.post(base+"/replay", map[string]any{"from_position": 0}).status)
	e.waitDelivered(t, ep, first, 3)
	e.waitDelivered(t, ep, second, 3)
	assert.Equal(t, 6, rc.oks())
	log := c.get(base + "/deliveries")
	require.Equal(t, http.StatusOK, log.status)
	items, _ := log.json(t)["items"].([]any)
	require.Len(t, items, 2)
	for _, it := range items {
		m, _ := it.(map[string]any)
		attempts, _ := m["attempt_log"].([]any)
		assert.Equal(t, webhooks.StatusDelivered, m["status"])
		assert.InDelta(t, float64(len(attempts)), m["attempts"], 0)
		assert.InDelta(t, 200, m["last_status_code"], 0)
	}
	assert.Equal(t, http.StatusBadRequest, c.post(base+"/replay", map[string]any{}).status)
	assert.Equal(t, http.StatusNotFound, c.post(base+"/deliveries/"+ep.ID.String()+"/redeliver", nil).status)
}

// After a rotation, deliveries are signed with the new secret only; a retried rotation
// (same Idempotency-Key) answers the same secret.
func TestRotateSecret(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, always(http.StatusOK))
	ep, oldSecret := e.register(t, "acme", rc.srv.URL)
	c := e.client(t, "acme")
	path := "/v1/webhooks/endpoints/" + ep.ID.String() + "/rotate-secret"
	r1 := c.do(http.MethodPost, path, "rotate-1", nil)
	require.Equal(t, http.StatusOK, r1.status, "%s", r1.body)
	newSecret, _ := r1.json(t)["secret"].(string)
	require.NotEqual(t, oldSecret, newSecret)
	r2 := c.do(http.MethodPost, path, "rotate-1", nil)
	assert.Equal(t, newSecret, r2.json(t)["secret"])
	assert.NotNil(t, r2.json(t)["secret_rotated_at"])

	e.run(t)
	e.registerCustomer(t, "acme")
	require.Eventually(t, func() bool { return rc.oks() == 1 }, waitFor, tick)
	got := rc.requests()[0]
	wNew, err := standardwebhooks.NewWebhook(newSecret)
	require.NoError(t, err)
	require.NoError(t, wNew.Verify(got.body, got.header))
	wOld, err := standardwebhooks.NewWebhook(oldSecret)
	require.NoError(t, err)
	require.Error(t, wOld.Verify(got.body, got.header))
}

// The dialer refuses an address the guard does not allow even when the URL got past
// registration (a name re-pointed at a private address: DNS rebinding): the attempt fails,
// naming why, and the receiver gets nothing.
func TestDialRefusesAddressesTheGuardForbids(t *testing.T) {
	t.Parallel()
	e := newEnv(t, webhooks0()) // production rules
	rc := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", rc.srv.URL) // stored directly, as if it had resolved to a public address then
	e.run(t)
	eventID, _ := e.registerCustomer(t, "acme")
	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Attempts >= 2
	}, waitFor, tick)
	d, _ := e.delivery(t, ep, eventID)
	require.NotNil(t, d.LastError)
	assert.Contains(t, *d.LastError, "loopback address")
	assert.Nil(t, d.LastStatus)
	assert.Empty(t, rc.requests())
}

// Purge deletes the finished deliveries older than Retention and keeps the pending ones and
// the recent ones.
func TestPurgeKeepsPendingAndRecentDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig()) // Retention: 30 days
	ok := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", ok.srv.URL)
	e.run(t)
	old, _ := e.registerCustomer(t, "acme")
	recent, _ := e.registerCustomer(t, "acme")
	e.waitDelivered(t, ep, old, 1)
	e.waitDelivered(t, ep, recent, 1)
	stuck, _ := e.registerCustomer(t, "acme")
	e.waitDelivered(t, ep, stuck, 1)
	// The endpoint is disabled, so the dispatcher leaves stuck pending once it is made so.
	require.Equal(t, http.StatusOK, e.client(t, "acme").post("/v1/webhooks/endpoints/"+ep.ID.String()+"/disable", nil).status)
	_, err := e.pool.Exec(testCtx(t), `UPDATE webhook_deliveries SET created_at = now() - interval '31 days',
  status = CASE WHEN event_id = $1::uuid THEN 'pending' ELSE status END WHERE event_id IN ($1::uuid, $2::uuid)`, stuck, old)
	require.NoError(t, err)
	n, err := e.svc.Purge(testCtx(t))
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)
	_, found := e.delivery(t, ep, old)
	assert.False(t, found)
	_, found = e.delivery(t, ep, recent)
	assert.True(t, found)
	_, found = e.delivery(t, ep, stuck)
	assert.True(t, found, "a pending delivery is kept however old")
}

// A receiver answering 410 Gone disables its endpoint (Standard Webhooks); the delivery
// waits, pending, and goes out once the endpoint is enabled again.
func TestGoneDisablesTheEndpoint(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	var back atomic.Bool
	rc := newReceiver(t, func(int64, *http.Request) int {
		if back.Load() {
			return http.StatusOK
		}
		return http.StatusGone
	})
	ep, _ := e.register(t, "acme", rc.srv.URL)
	e.run(t)
	eventID, _ := e.registerCustomer(t, "acme")
	c := e.client(t, "acme")
	base := "/v1/webhooks/endpoints/" + ep.ID.String()
	require.Eventually(t, func() bool { return c.get(base).json(t)["enabled"] == false }, waitFor, tick)
	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Attempts >= 1 && d.Status == webhooks.StatusPending
	}, waitFor, tick)
	back.Store(true)
	require.Equal(t, http.StatusOK, c.post(base+"/enable", nil).status)
	require.Eventually(t, func() bool {
		d, ok := e.delivery(t, ep, eventID)
		return ok && d.Status == webhooks.StatusDelivered
	}, waitFor, tick)
}

// A delivery claimed by a process that died mid-attempt is not attempted while the claim
// holds, and is attempted (same webhook-id) once it lapses.
func TestALapsedClaimIsAttemptedAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t, testConfig())
	rc := newReceiver(t, always(http.StatusOK))
	ep, _ := e.register(t, "acme", rc.srv.URL)
	eventID, _ := e.registerCustomer(t, "acme")
	require.NoError(t, e.svc.CatchUp(testCtx(t)))
	var lapse time.Time
	require.NoError(t, e.pool.QueryRow(testCtx(t), `UPDATE webhook_deliveries SET locked_until = now() + interval '300 milliseconds'
WHERE event_id = $1::uuid RETURNING locked_until`, eventID).Scan(&lapse))
	e.run(t)
	e.waitDelivered(t, ep, eventID, 1)
	d, _ := e.delivery(t, ep, eventID)
	require.Len(t, d.Log, 1)
	assert.False(t, d.Log[0].StartedAt.Before(lapse), "attempted at %s, before the claim lapsed at %s", d.Log[0].StartedAt, lapse)
	require.Len(t, rc.requests(), 1)
	assert.Equal(t, eventID, rc.requests()[0].header.Get("webhook-id"))
}
