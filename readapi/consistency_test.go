package readapi_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/postgres"
	"github.com/dotmac/ledger/internal/pgtest"
	"github.com/dotmac/ledger/projections"
	"github.com/dotmac/ledger/projections/projectiontest"
	"github.com/dotmac/ledger/projections/readmodel"
	"github.com/dotmac/ledger/projections/readmodel/readmodeltest"
	"github.com/dotmac/ledger/readapi"
)

// min_position with a stand-in runtime: an answer at once when the projection is there, a
// 504 with the position reached when it does not get there in time, and an answer as soon as
// it catches up during the wait.
func TestMinPositionWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	tok := e.token("acme")
	path := "/v1/customers/" + id(101) + "/balance"

	start := time.Now()
	r := e.ok(tok, path+"?min_position=43")
	// Reached already: answered without waiting for the bound (a wait would end in a 504 at
	// DefaultWait). Not a tighter bound: a loaded host took 1.35 s for this first request.
	assert.Less(t, time.Since(start), readapi.DefaultWait)
	assert.Equal(t, "43", r.Header.Get("X-Ledger-Position"))
	assert.Equal(t, "43", e.ok(tok, path, "X-Min-Position", "40").Header.Get("X-Ledger-Position"))

	start = time.Now()
	r = e.get(tok, path+"?min_position=50&wait=150ms")
	require.Equal(t, http.StatusGatewayTimeout, r.Status, string(r.Body))
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	assert.Equal(t, "43", r.Header.Get("X-Ledger-Position"))
	body := r.json(t)
	assert.InDelta(t, 43, body["position"], 0)
	assert.InDelta(t, 50, body["min_position"], 0)
	assert.Equal(t, "balances", body["projection"])
	assert.Equal(t, "/problems/not-caught-up", body["type"])
	r = e.get(tok, path+"?wait=50ms", "X-Min-Position", "44")
	assert.Equal(t, http.StatusGatewayTimeout, r.Status, "the header form")

	done := make(chan resp, 1)
	go func() { done <- e.get(tok, path+"?min_position=45&wait=10s") }()
	time.Sleep(100 * time.Millisecond)
	select {
	case <-done:
		t.Fatal("answered before the projection reached the position")
	default:
	}
	e.pos.set(44)
	time.Sleep(50 * time.Millisecond)
	e.pos.set(46)
	select {
	case r := <-done:
		require.Equal(t, http.StatusOK, r.Status, string(r.Body))
		assert.Equal(t, "46", r.Header.Get("X-Ledger-Position"))
	case <-time.After(5 * time.Second):
		t.Fatal("still waiting after the projection got there")
	}
}

// The default bound is the configured wait; ?wait= shortens it.
func TestMinPositionDefaultBound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil)
	h := e.serve(readapi.Config{DB: e.pool, Auth: e.key, Positions: e.pos, Wait: 200 * time.Millisecond, MaxWait: time.Second})
	e.handler = h
	tok := e.token("acme")
	start := time.Now()
	r := e.get(tok, "/v1/invoices/"+id(201), "X-Min-Position", "1000")
	require.Equal(t, http.StatusGatewayTimeout, r.Status)
	assert.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	assert.Less(t, time.Since(start), 900*time.Millisecond)
	r = e.get(tok, "/v1/invoices/"+id(201)+"?wait=2s")
	require.Equal(t, http.StatusBadRequest, r.Status, "above MaxWait")
	assert.Equal(t, "wait", fieldOf(t, r))
}

// Read-your-writes against the real projection runtime and event store: every payment
// recorded is in the balance read with the position of its append; a position beyond the
// head is a 504 with where the projection stands; the wait ends when the projector applies
// the event.
func TestReadYourWritesWithTheRuntime(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := pgtest.Pool(t, postgres.MigrationSet(), projections.MigrationSet())
	store, err := postgres.Open(ctx, pool, postgres.Config{})
	require.NoError(t, err)
	t.Cleanup(store.Close)
	h, err := readmodeltest.FixtureHistory()
	require.NoError(t, err)
	head, err := readmodeltest.AppendTo(ctx, store, h.Events())
	require.NoError(t, err)
	rt := projectiontest.Start(t, pool, store, readmodel.All(), projections.Options{Interval: 50 * time.Millisecond})
	e := &env{t: t, pool: pool, key: testKey(t)}
	e.handler = e.serve(readapi.Config{DB: pool, Auth: e.key, Positions: rt})
	tok := e.token("acme")
	path := "/v1/customers/" + id(101) + "/balance"

	r := e.ok(tok, fmt.Sprintf("%s?min_position=%d", path, head))
	assert.Equal(t, usd("89.63"), decode[readapi.CustomerBalance](t, r).Balances[0].Balance)
	reached, err := strconv.ParseUint(r.Header.Get("X-Ledger-Position"), 10, 64)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, reached, uint64(head))

	r = e.get(tok, fmt.Sprintf("%s?min_position=%d&wait=200ms", path, head+1000))
	require.Equal(t, http.StatusGatewayTimeout, r.Status, string(r.Body))
	assert.InDelta(t, float64(head), r.json(t)["position"], 0, "the position the projection stood at")

	alice := must(domain.ParseCustomerID(id(101)))
	acme := must(domain.ParseTenantID("acme"))
	balance := 8963 // cents
	for i := range 15 {
		h.Tick(time.Minute)
		payment := must(domain.NewPaymentID(h.ID()))
		before := len(h.Events())
		_, err := h.Account(acme, alice, domain.RecordPayment{PaymentID: payment, Amount: must(domain.ParseMoney("1.00", "USD")),
			Method: domain.PaymentMethodCash, ReceivedAt: h.Now})
		require.NoError(t, err)
		pos, err := readmodeltest.AppendTo(ctx, store, h.Events()[before:])
		require.NoError(t, err)
		balance -= 100
		r := e.ok(tok, fmt.Sprintf("%s?min_position=%d", path, pos))
		want := fmt.Sprintf("%d.%02d", balance/100, balance%100)
		assert.Equal(t, usd(want), decode[readapi.CustomerBalance](t, r).Balances[0].Balance, "payment %d", i)
		p := e.ok(e.token("acme"), fmt.Sprintf("/v1/payments/%s?min_position=%d", payment, pos))
		assert.Equal(t, usd("1.00"), decode[readapi.PaymentDetail](t, p).Amount)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
