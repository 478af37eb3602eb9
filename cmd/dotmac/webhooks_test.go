package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/uuid"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/pgtest"
)

// TestServeDeliversWebhooks: `dotmac serve --webhook-allow-loopback` registers an endpoint
// through the command API, delivers a customer's registration to it signed with the secret
// the registration answered, lists it on the query API without the secret and with its
// delivery, and shows the webhook series on /metrics.
func TestServeDeliversWebhooks(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 16)
	bodies := make(chan []byte, 16)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- b
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	s := startServerOn(t, pgtest.SchemaURL(t), "--process-managers=false", "--webhook-allow-loopback")
	tok := s.mint(t, "acme")

	reg := s.do(t, http.MethodPost, s.command+"/v1/webhooks/endpoints", tok, uuid.NewString(),
		map[string]any{"url": rc.URL + "/hook", "event_types": []string{"customers.*"}})
	require.Equal(t, http.StatusCreated, reg.status, "%s", reg.body)
	secret, _ := reg.json(t)["secret"].(string)
	id, _ := reg.json(t)["id"].(string)
	cust := s.do(t, http.MethodPost, s.command+"/v1/customers", tok, uuid.NewString(),
		map[string]any{"name": "Ada", "email": "ada@example.com", "billing_address": "1 Fiber Way", "currency": "USD"})
	require.Equal(t, http.StatusCreated, cust.status, "%s", cust.body)

	var req *http.Request
	select {
	case req = <-got:
	case <-time.After(time.Minute):
		t.Fatal("no webhook within a minute")
	}
	body := <-bodies
	wh, err := standardwebhooks.NewWebhook(secret)
	require.NoError(t, err)
	require.NoError(t, wh.Verify(body, req.Header))
	assert.Contains(t, string(body), `"type":"customers.customer_registered"`)

	one := s.do(t, http.MethodGet, s.query+"/v1/webhooks/endpoints/"+id, tok, "", nil)
	require.Equal(t, http.StatusOK, one.status, "%s", one.body)
	assert.NotContains(t, string(one.body), "whsec_")
	require.Eventually(t, func() bool {
		log := s.do(t, http.MethodGet, s.query+"/v1/webhooks/endpoints/"+id+"/deliveries?status=delivered", tok, "", nil)
		items, _ := log.json(t)["items"].([]any)
		return log.status == http.StatusOK && len(items) == 1
	}, time.Minute, 20*time.Millisecond)
	metrics := get(t, s.admin+"/metrics")
	for _, name := range []string{"dotmac_webhook_attempts_total", "dotmac_webhook_deliveries_total", "dotmac_webhook_fanout_lag_events"} {
		assert.Contains(t, metrics, name)
	}
}

// --webhook-allow-loopback is refused in production mode.
func TestLoopbackWebhooksAreRefusedInProduction(t *testing.T) {
	t.Parallel()
	sys := &system{flags: &serveFlags{}}
	sys.flags.webhooks.allowLoopback = true
	sys.flags.key.production = true
	_, err := webhookService(sys)
	require.ErrorIs(t, err, errLoopbackWebhooksInProduction)
}
