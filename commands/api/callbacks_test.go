package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/pgstore"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore/codec"
	"github.com/dotmac/ledger/internal/httpx"
)

const (
	stripeSecret = "whsec_test_0123456789abcdef"
	euSecret     = "whsec_test_eu_0123456789abcdef"
	mpesaSecret  = "mpesa_test_0123456789abcdef"
	safaricomIP  = "196.201.214.200"
)

// withProviders gives e's tenant acme a Stripe account and M-Pesa short code 600984 (callbacks
// from 196.201.214.0/24 only).
func withProviders(t *testing.T, e *env) {
	t.Helper()
	reg, err := providers.NewRegistry(providers.Config{
		Stripe: []providers.StripeAccount{{Tenant: "acme", Secrets: []providers.Secret{stripeSecret}},
			{Tenant: "acme", Endpoint: "acme-eu", Secrets: []providers.Secret{euSecret}}},
		MPesa: []providers.MPesaAccount{{Tenant: "acme", ShortCode: "600984", Secret: mpesaSecret,
			AllowFrom: []netip.Prefix{netip.MustParsePrefix("196.201.214.0/24")}}},
	})
	require.NoError(t, err)
	reg.Now = e.clock.Now
	e.providers = reg
	e.handlers, e.handler, e.registry = e.newProcess(e.store)
}

// unallocatedReceipt books a receipt naming nobody for tok's tenant and returns its id.
func (e *env) unallocatedReceipt(tok string) string {
	e.t.Helper()
	p, err := e.key.Verify(tok)
	require.NoError(e.t, err)
	tenant, err := domain.ParseTenantID(p.Tenant)
	require.NoError(e.t, err)
	amount, err := domain.ParseMoney("40.00", "USD")
	require.NoError(e.t, err)
	res, err := e.handlers.RecordProviderPayment(context.Background(), commands.Meta{Tenant: tenant, Actor: "test"},
		commands.ProviderPayment{Provider: "mpesa", EventID: "QK" + fmt.Sprint(time.Now().UnixNano()), AccountReference: "nobody",
			Amount: amount, Method: domain.PaymentMethodMobileMoney, ReceivedAt: e.clock.Now().Add(-time.Minute)})
	require.NoError(e.t, err)
	require.Equal(e.t, commands.OutcomeUnallocated, res.Outcome)
	return res.ID
}

// callback is one provider callback.
type callback struct {
	provider string
	body     string
	header   map[string]string
	query    string
	from     string // the peer address
}

func (e *env) callback(c callback) resp {
	e.t.Helper()
	path := "/v1/providers/" + c.provider + "/callbacks" + c.query
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, path, strings.NewReader(c.body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	if c.from != "" {
		req.RemoteAddr = c.from + ":443"
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	out := resp{Status: rec.Code, Header: rec.Header(), Body: rec.Body.Bytes()}
	validateResponse(e.t, req, out)
	return out
}

func stripeBody(id, currency string, amount int64, customer string, created time.Time) string {
	b, _ := json.Marshal(map[string]any{"id": "evt_" + id, "type": "payment_intent.succeeded", "created": created.Unix(),
		"data": map[string]any{"object": map[string]any{"id": "pi_" + id, "object": "payment_intent", "amount": amount,
			"amount_received": amount, "currency": currency, "metadata": map[string]string{"customer_id": customer}}}})
	return string(b)
}

func withQuery(c callback, q string) callback {
	c.query = q
	return c
}

// chargeBody is the charge.succeeded event of stripeBody's payment intent.
func chargeBody(id, currency string, amount int64, customer string, created time.Time) string {
	b, _ := json.Marshal(map[string]any{"id": "evt_ch" + id, "type": "charge.succeeded", "created": created.Unix() - 1,
		"data": map[string]any{"object": map[string]any{"id": "ch_" + id, "object": "charge", "amount": amount,
			"currency": currency, "payment_intent": "pi_" + id, "metadata": map[string]string{"customer_id": customer}}}})
	return string(b)
}

func (e *env) stripe(body string, signedAt time.Time, secret string) callback {
	return callback{provider: "stripe", body: body,
		header: map[string]string{api.HeaderStripeSignature: providers.SignStripe([]byte(body), secret, signedAt)}}
}

func mpesaCallback(transID, amount, ref string) callback {
	return callback{provider: "mpesa", from: safaricomIP, query: "?secret=" + mpesaSecret, body: `{"TransactionType":"Pay Bill",
	 "TransID":"` + transID + `","TransTime":"20260109120000","TransAmount":"` + amount + `","BusinessShortCode":"600984",
	 "BillRefNumber":"` + ref + `","MSISDN":"254708374149","FirstName":"JOHN"}`}
}

// cash is the balance of account 1000 over the whole store, per currency.
func (e *env) cash() map[string]string {
	e.t.Helper()
	var ledger domain.LedgerTotals
	envs, err := e.store.ReadAll(context.Background(), 0, 10_000)
	require.NoError(e.t, err)
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(e.t, err)
		if entry, ok, err := domain.Postings(ev); ok {
			require.NoError(e.t, err)
			ledger.Post(entry)
		}
	}
	out := map[string]string{}
	for _, c := range ledger.Currencies() {
		out[c.Code()] = ledger.Balance(domain.AccountCash, c).AmountString()
		assert.True(e.t, ledger.Net(c).IsZero(), "the journal nets to zero in %s", c)
	}
	return out
}

// Every outcome of a callback answers as documented and loses nothing: money is recorded once,
// refused callbacks record nothing (the provider retries them).
func TestCallbackOutcomes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withProviders(t, e)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	e.issuedInvoice(tok, customer, "30.00")
	now := e.clock.Now()

	tests := []struct {
		name    string
		c       callback
		status  int
		outcome string
		problem string
		result  any
	}{
		{"stripe: signed", e.stripe(stripeBody("1", "usd", 5000, customer, now), now, stripeSecret), http.StatusOK, "recorded", "", nil},
		{"stripe: replayed", e.stripe(stripeBody("1", "usd", 5000, customer, now), now, stripeSecret), http.StatusOK, "duplicate", "", nil},
		{"stripe: its charge, naming nobody", e.stripe(chargeBody("1", "usd", 5000, "", now), now, stripeSecret), http.StatusOK, "duplicate", "", nil},
		{"stripe: its charge, another amount", e.stripe(chargeBody("1", "usd", 5001, "", now), now, stripeSecret), http.StatusConflict, "", "/problems/provider-payment-mismatch", nil},
		{"stripe: a charge naming nobody", e.stripe(chargeBody("7", "usd", 1200, "", now), now, stripeSecret), http.StatusOK, "unallocated", "", nil},
		{"stripe: its payment intent, naming the customer", e.stripe(stripeBody("7", "usd", 1200, customer, now), now, stripeSecret), http.StatusOK, "allocated", "", nil},
		{"stripe: an endpoint's secret, to its URL", withQuery(e.stripe(stripeBody("8", "usd", 300, "", now), now, euSecret), "?endpoint=acme-eu"), http.StatusOK, "unallocated", "", nil},
		{"stripe: an endpoint's secret, without its URL", e.stripe(stripeBody("9", "usd", 300, "", now), now, euSecret), http.StatusBadRequest, "", "/problems/bad-signature", nil},
		{"stripe: an unknown endpoint", withQuery(e.stripe(stripeBody("9", "usd", 300, "", now), now, stripeSecret), "?endpoint=nope"), http.StatusNotFound, "", "/problems/unknown-provider-account", nil},
		{"stripe: bad signature", e.stripe(stripeBody("2", "usd", 100, customer, now), now, "whsec_wrong_0123456789abcdef"), http.StatusBadRequest, "", "/problems/bad-signature", nil},
		{"stripe: body altered", callback{provider: "stripe", body: stripeBody("2", "usd", 999999, customer, now),
			header: map[string]string{api.HeaderStripeSignature: providers.SignStripe([]byte(stripeBody("2", "usd", 100, customer, now)), stripeSecret, now)}},
			http.StatusBadRequest, "", "/problems/bad-signature", nil},
		{"stripe: old timestamp", e.stripe(stripeBody("3", "usd", 100, customer, now), now.Add(-6*time.Minute), stripeSecret), http.StatusBadRequest, "", "/problems/stale-timestamp", nil},
		{"stripe: no signature", callback{provider: "stripe", body: stripeBody("4", "usd", 100, customer, now)}, http.StatusBadRequest, "", "/problems/bad-signature", nil},
		{"stripe: unknown account reference", e.stripe(stripeBody("5", "usd", 700, "cust-404", now), now, stripeSecret), http.StatusOK, "unallocated", "", nil},
		{"stripe: wrong currency", e.stripe(stripeBody("6", "eur", 900, customer, now), now, stripeSecret), http.StatusOK, "unallocated", "", nil},
		{"mpesa: confirmation", mpesaCallback("RKTQDM7W6S", "1000.00", "nobody"), http.StatusOK, "unallocated", "", 0.0},
		{"mpesa: replayed", mpesaCallback("RKTQDM7W6S", "1000.00", "nobody"), http.StatusOK, "duplicate", "", 0.0},
		{"mpesa: source not allowed", func() callback { c := mpesaCallback("RKTQDM7W6T", "5.00", "x"); c.from = "10.1.1.1"; return c }(),
			http.StatusForbidden, "", "", "C2B00016"},
		{"mpesa: wrong secret", func() callback { c := mpesaCallback("RKTQDM7W6U", "5.00", "x"); c.query = "?secret=nope"; return c }(),
			http.StatusUnauthorized, "", "", "C2B00016"},
		{"mpesa: secret in the header", func() callback {
			c := mpesaCallback("RKTQDM7W6V", "7.00", "x")
			c.query, c.header = "", map[string]string{api.HeaderCallbackSecret: mpesaSecret}
			return c
		}(), http.StatusOK, "unallocated", "", 0.0},
		{"mpesa: unknown short code", func() callback {
			c := mpesaCallback("RKTQDM7W6W", "5.00", "x")
			c.body = strings.Replace(c.body, "600984", "111111", 1)
			return c
		}(), http.StatusNotFound, "", "", "C2B00015"},
		{"unknown provider", callback{provider: "paypal", body: "{}"}, http.StatusNotFound, "", "/problems/unknown-provider", nil},
	}
	for _, tt := range tests {
		r := e.callback(tt.c)
		require.Equal(t, tt.status, r.Status, "%s: %s", tt.name, r.Body)
		body := r.JSON(t)
		if tt.outcome != "" {
			assert.Equal(t, tt.outcome, body["outcome"], tt.name)
		}
		if tt.problem != "" {
			assert.Equal(t, tt.problem, body["type"], tt.name)
		}
		if tt.result != nil {
			assert.Equal(t, tt.result, body["ResultCode"], tt.name)
		}
	}
	// Recorded once each: 50.00 and 12.00 USD paid by card (the second through unallocated
	// receipts), 7.00 and 3.00 USD to unallocated receipts, 9.00 EUR (the customer bills in USD) and
	// 1007.00 KES unallocated. The refused callbacks are not there.
	assert.Equal(t, map[string]string{"USD": "72.00", "EUR": "9.00", "KES": "1007.00"}, e.cash())

	// Each outcome is counted by provider; an unknown provider's name mints no series.
	for _, c := range []struct {
		provider, outcome string
		n                 float64
	}{
		{"stripe", "recorded", 1}, {"stripe", "duplicate", 2}, {"stripe", "bad-signature", 4}, {"stripe", "stale-timestamp", 1},
		{"stripe", "unallocated", 4}, {"stripe", "unknown-provider-account", 1}, {"stripe", "allocated", 1}, {"stripe", "provider-payment-mismatch", 1}, {"mpesa", "unallocated", 2}, {"mpesa", "duplicate", 1}, {"mpesa", "source-not-allowed", 1},
		{"mpesa", "bad-secret", 1}, {"mpesa", "unknown-provider-account", 1}, {"unknown", "unknown-provider", 1},
	} {
		assert.InDelta(t, c.n, metricSum(t, e.registry, "dotmac_payment_callbacks_total", map[string]string{"provider": c.provider, "outcome": c.outcome}), 0,
			"%s %s", c.provider, c.outcome)
	}
	assert.Zero(t, metricSum(t, e.registry, "dotmac_payment_callbacks_total", map[string]string{"provider": "paypal"}))
}

// Identical callbacks delivered at once record the payment once (run with -race).
func TestConcurrentIdenticalCallbacks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withProviders(t, e)
	customer := e.registerCustomer(e.token("acme"))
	now := e.clock.Now()
	cb := e.stripe(stripeBody("same", "usd", 2500, customer, now), now, stripeSecret)
	const deliveries = 12
	statuses := make(chan int, deliveries)
	var wg sync.WaitGroup
	for range deliveries {
		wg.Go(func() {
			statuses <- e.callback(cb).Status
		})
	}
	wg.Wait()
	close(statuses)
	for s := range statuses {
		assert.Equal(t, http.StatusOK, s)
	}
	assert.Equal(t, map[string]string{"USD": "25.00"}, e.cash())
}

// An unallocated receipt is allocated to a customer with one call: it settles the customer's
// open invoice and the rest is credit, and 2300 is empty again.
func TestAllocateAnUnallocatedReceipt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withProviders(t, e)
	tok := e.token("acme")
	customer := e.registerCustomer(tok)
	invoice := e.issuedInvoice(tok, customer, "30.00")
	r := e.callback(mpesaCallback("RKTQDM7W7A", "45.00", "ACME 0001")) // the short code bills in KES
	require.Equal(t, http.StatusOK, r.Status)
	assert.Equal(t, "unallocated", r.JSON(t)["outcome"])

	// A USD receipt: a Stripe payment naming no customer.
	now := e.clock.Now()
	r = e.callback(e.stripe(stripeBody("lost", "usd", 4500, "typo", now), now, stripeSecret))
	require.Equal(t, http.StatusOK, r.Status)
	receipt := r.str(t, "id")

	kes := e.post(tok, "/v1/receipts/"+e.receiptOf("mpesa:RKTQDM7W7A")+"/allocations", map[string]any{"customer_id": customer})
	assert.Equal(t, http.StatusUnprocessableEntity, kes.Status, "a KES receipt cannot pay a USD customer: %s", kes.Body)

	paid := e.must(http.StatusCreated, tok, "/v1/receipts/"+receipt+"/allocations", map[string]any{"customer_id": customer}).JSON(t)
	assert.Equal(t, receipt, paid["receipt_id"])
	assert.Equal(t, []any{map[string]any{"invoice_id": invoice, "amount": money("30.00", "USD")}}, paid["allocations"])
	assert.Equal(t, money("15.00", "USD"), paid["unapplied"])

	other := e.registerCustomer(tok)
	again := e.post(tok, "/v1/receipts/"+receipt+"/allocations", map[string]any{"customer_id": other})
	assert.Equal(t, http.StatusUnprocessableEntity, again.Status)
	assert.Contains(t, string(again.Body), "receipt_allocated")
	assert.Equal(t, http.StatusNotFound, e.post(e.token("globex"), "/v1/receipts/"+receipt+"/allocations",
		map[string]any{"customer_id": customer}).Status, "another tenant's receipt is no receipt")

	var ledger domain.LedgerTotals
	envs, err := e.store.ReadAll(context.Background(), 0, 1000)
	require.NoError(t, err)
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(t, err)
		if entry, ok, _ := domain.Postings(ev); ok {
			ledger.Post(entry)
		}
	}
	usd, err := domain.ParseCurrency("USD")
	require.NoError(t, err)
	assert.True(t, ledger.Balance(domain.AccountUnallocated, usd).IsZero(), "the USD receipt left 2300")
	assert.Equal(t, "45.00", ledger.Balance(domain.AccountCash, usd).AmountString())
}

// receiptOf returns the id of the receipt with external reference ref.
func (e *env) receiptOf(ref string) string {
	e.t.Helper()
	envs, err := e.store.ReadAll(context.Background(), 0, 1000)
	require.NoError(e.t, err)
	for i := range envs {
		ev, err := codec.Decode(&envs[i])
		require.NoError(e.t, err)
		if r, ok := ev.(domain.UnallocatedReceiptRecorded); ok && r.ExternalReference == ref {
			return r.ReceiptID.String()
		}
	}
	e.t.Fatalf("no receipt %s", ref)
	return ""
}

// Neither a signing secret nor a shared secret (in the query or a header) reaches the request
// log, whatever the outcome.
func TestCallbackSecretsAreNotLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	withProviders(t, e)
	var log bytes.Buffer
	a, err := api.New(api.Config{Handlers: e.handlers, Keys: pgstore.NewKeys(e.pool, pgstore.KeysConfig{}), Auth: e.key, Providers: e.providers})
	require.NoError(t, err)
	r := mux.NewRouter()
	r.Use(httpx.TagRoute)
	a.Mount(r)
	e.handler = httpx.Observe(zerolog.New(&log), nil, r)
	now := e.clock.Now()
	for _, c := range []callback{
		e.stripe(stripeBody("log", "usd", 100, "nobody", now), now, stripeSecret),
		e.stripe(stripeBody("log2", "usd", 100, "nobody", now), now, "whsec_wrong_0123456789abcdef"),
		mpesaCallback("RKLOG00001", "5.00", "x"),
		func() callback {
			c := mpesaCallback("RKLOG00002", "5.00", "x")
			c.query = "?secret=wrong-" + mpesaSecret
			return c
		}(),
		func() callback { c := mpesaCallback("RKLOG00003", "5.00", "x"); c.from = "10.0.0.1"; return c }(),
	} {
		e.callback(c)
	}
	require.NotEmpty(t, log.String())
	assert.Contains(t, log.String(), "/v1/providers/mpesa/callbacks")
	for _, secret := range []string{stripeSecret, mpesaSecret, "v1="} {
		assert.NotContains(t, log.String(), secret)
	}
}
