package providers_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/domain"
)

const (
	acmeSecret = "whsec_acme_0123456789abcdef"
	newSecret  = "whsec_acme_rotated_0123456789"
	globexKey  = "whsec_globex_0123456789abcdef"
	mpesaKey   = "mpesa-shared-secret-0123456789"
	customerID = "0194f3a2-7b1c-7d4e-9a10-3f5e6c7d8e9f"
)

var clock = time.Date(2026, 1, 10, 9, 0, 0, 0, time.UTC)

func registry(t *testing.T) *providers.Registry {
	t.Helper()
	var c providers.Config
	require.NoError(t, json.Unmarshal([]byte(`{
	  "stripe": [
	    {"tenant": "acme", "account": "acct_acme", "secrets": ["`+acmeSecret+`", "`+newSecret+`"]},
	    {"tenant": "globex", "secrets": ["`+globexKey+`"], "tolerance": "1m"}
	  ],
	  "mpesa": [
	    {"tenant": "acme", "shortcode": "600984", "secret": "`+mpesaKey+`", "allow_from": ["196.201.214.0/24", "2001:db8::/32"]},
	    {"tenant": "globex", "shortcode": "600985", "secret": "`+mpesaKey+`x"}
	  ]}`), &c))
	r, err := providers.NewRegistry(c)
	require.NoError(t, err)
	r.Now = func() time.Time { return clock }
	return r
}

func stripeEvent(typ, account string) []byte {
	ev := map[string]any{"id": "evt_1", "type": typ, "created": clock.Add(-time.Minute).Unix(), "data": map[string]any{
		"object": map[string]any{"id": "pi_1", "object": "payment_intent", "amount": 7999, "amount_received": 7999, "currency": "usd",
			"metadata": map[string]string{"customer_id": customerID}}}}
	if account != "" {
		ev["account"] = account
	}
	b, _ := json.Marshal(ev)
	return b
}

func TestVerifyStripe(t *testing.T) {
	r := registry(t)
	body := stripeEvent("payment_intent.succeeded", "")
	signed := func(secret string, at time.Time) string { return providers.SignStripe(body, secret, at) }
	tests := []struct {
		name   string
		header string
		body   []byte
		tenant string
		err    error
	}{
		{name: "acme's secret", header: signed(acmeSecret, clock), tenant: "acme"},
		{name: "acme's rotated secret", header: signed(newSecret, clock), tenant: "acme"},
		{name: "globex's secret", header: signed(globexKey, clock), tenant: "globex"},
		{name: "two signatures, one good", header: signed("whsec_unknown_0123456789", clock) + ",v1=" + signed(acmeSecret, clock)[len("t=1767999600,v1="):], tenant: "acme"},
		{name: "4m59s old", header: signed(acmeSecret, clock.Add(-5*time.Minute+time.Second)), tenant: "acme"},
		{name: "5m01s old", header: signed(acmeSecret, clock.Add(-5*time.Minute-time.Second)), err: providers.ErrStaleTimestamp},
		{name: "from the future", header: signed(acmeSecret, clock.Add(6*time.Minute)), err: providers.ErrStaleTimestamp},
		{name: "globex tolerates 1m", header: signed(globexKey, clock.Add(-2*time.Minute)), err: providers.ErrStaleTimestamp},
		{name: "unknown secret", header: signed("whsec_unknown_0123456789", clock), err: providers.ErrBadSignature},
		{name: "no header", header: "", err: providers.ErrBadSignature},
		{name: "body changed", header: signed(acmeSecret, clock), body: append([]byte(" "), body...), err: providers.ErrBadSignature},
		{name: "named account", header: providers.SignStripe(stripeEvent("payment_intent.succeeded", "acct_acme"), acmeSecret, clock),
			body: stripeEvent("payment_intent.succeeded", "acct_acme"), tenant: "acme"},
		{name: "another account's secret for a named account", header: providers.SignStripe(stripeEvent("payment_intent.succeeded", "acct_acme"), globexKey, clock),
			body: stripeEvent("payment_intent.succeeded", "acct_acme"), err: providers.ErrBadSignature},
		{name: "not a payment", header: providers.SignStripe(stripeEvent("customer.created", ""), acmeSecret, clock),
			body: stripeEvent("customer.created", ""), tenant: "acme", err: providers.ErrIgnored},
		{name: "not JSON", header: providers.SignStripe([]byte("nope"), acmeSecret, clock), body: []byte("nope"), err: providers.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := body
			if tt.body != nil {
				b = tt.body
			}
			v, err := r.Verify(providers.ProviderStripe, providers.Request{StripeSignature: tt.header, Body: b})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.tenant, v.Tenant.String())
			assert.Equal(t, "79.99 USD", v.Payment.Amount.String())
			assert.Equal(t, "pi_1", v.Payment.EventID)
			assert.Equal(t, customerID, v.Payment.AccountReference)
			assert.Equal(t, domain.PaymentMethodCard, v.Payment.Method)
		})
	}
}

// A charge.succeeded of the same payment intent is the same payment; a zero-decimal currency
// is in whole units.
func TestStripeChargeIsItsPaymentIntent(t *testing.T) {
	r := registry(t)
	body := []byte(`{"id":"evt_2","type":"charge.succeeded","created":1767999000,"data":{"object":{"id":"ch_9","object":"charge",
	  "amount":4980,"currency":"jpy","payment_intent":"pi_1","metadata":{"customer_id":"x"},"billing_details":{"name":"Ada\n King "}}}}`)
	v, err := r.Verify(providers.ProviderStripe, providers.Request{StripeSignature: providers.SignStripe(body, acmeSecret, clock), Body: body})
	require.NoError(t, err)
	assert.Equal(t, "pi_1", v.Payment.EventID)
	assert.Equal(t, "4980 JPY", v.Payment.Amount.String())
	assert.Equal(t, "Ada King", v.Payment.Payer)
}

func mpesaBody(shortcode, amount string) []byte {
	return []byte(`{"TransactionType":"Pay Bill","TransID":"RKTQDM7W6S","TransTime":"20260110115959","TransAmount":"` + amount + `",
	 "BusinessShortCode":"` + shortcode + `","BillRefNumber":"` + customerID + `","InvoiceNumber":"","OrgAccountBalance":"49197.00",
	 "ThirdPartyTransID":"","MSISDN":"254708374149","FirstName":"John","MiddleName":"","LastName":"Doe"}`)
}

func TestVerifyMPesa(t *testing.T) {
	r := registry(t)
	safaricom, v6 := netip.MustParseAddr("196.201.214.200"), netip.MustParseAddr("2001:db8::1")
	tests := []struct {
		name   string
		req    providers.MPesaRequest
		body   []byte
		tenant string
		err    error
	}{
		{name: "allowed address and secret", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey}, tenant: "acme"},
		{name: "IPv4-mapped IPv6 address", req: providers.MPesaRequest{Source: netip.MustParseAddr("::ffff:196.201.214.9"), Secret: mpesaKey}, tenant: "acme"},
		{name: "IPv6 address", req: providers.MPesaRequest{Source: v6, Secret: mpesaKey}, tenant: "acme"},
		{name: "address not allowed", req: providers.MPesaRequest{Source: netip.MustParseAddr("10.0.0.1"), Secret: mpesaKey}, err: providers.ErrSourceNotAllowed},
		{name: "no address", req: providers.MPesaRequest{Secret: mpesaKey}, err: providers.ErrSourceNotAllowed},
		{name: "wrong secret", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey + "x"}, err: providers.ErrBadSecret},
		{name: "no secret", req: providers.MPesaRequest{Source: safaricom}, err: providers.ErrBadSecret},
		{name: "no allow-list: any address", req: providers.MPesaRequest{Source: netip.MustParseAddr("10.0.0.1"), Secret: mpesaKey + "x"},
			body: mpesaBody("600985", "1500.00"), tenant: "globex"},
		{name: "unknown short code", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey}, body: mpesaBody("999999", "1500.00"), err: providers.ErrUnknownAccount},
		{name: "amount not a number", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey}, body: mpesaBody("600984", "lots"), err: providers.ErrMalformed},
		{name: "zero amount", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey}, body: mpesaBody("600984", "0.00"), err: providers.ErrMalformed},
		{name: "not JSON", req: providers.MPesaRequest{Source: safaricom, Secret: mpesaKey}, body: []byte("<xml/>"), err: providers.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.body
			if b == nil {
				b = mpesaBody("600984", "1500.00")
			}
			v, err := r.Verify(providers.ProviderMPesa, providers.Request{MPesa: tt.req, Body: b})
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.tenant, v.Tenant.String())
			assert.Equal(t, "1500.00 KES", v.Payment.Amount.String())
			assert.Equal(t, "RKTQDM7W6S", v.Payment.EventID)
			assert.Equal(t, "2547*****149 John", v.Payment.Payer)
			assert.Equal(t, time.Date(2026, 1, 10, 8, 59, 59, 0, time.UTC), v.Payment.ReceivedAt, "TransTime is East Africa Time")
		})
	}
}

func TestUnknownProvider(t *testing.T) {
	_, err := registry(t).Verify("paypal", providers.Request{})
	require.ErrorIs(t, err, providers.ErrUnknownProvider)
	_, err = (*providers.Registry)(nil).Verify(providers.ProviderMPesa, providers.Request{Body: mpesaBody("600984", "1.00")})
	require.ErrorIs(t, err, providers.ErrUnknownAccount)
}

func TestConfigValidate(t *testing.T) {
	good := providers.StripeAccount{Tenant: "acme", Secrets: []providers.Secret{acmeSecret}}
	tests := []struct {
		name string
		c    providers.Config
	}{
		{"bad tenant", providers.Config{Stripe: []providers.StripeAccount{{Tenant: "Not A Tenant", Secrets: good.Secrets}}}},
		{"no secret", providers.Config{Stripe: []providers.StripeAccount{{Tenant: "acme"}}}},
		{"short secret", providers.Config{Stripe: []providers.StripeAccount{{Tenant: "acme", Secrets: []providers.Secret{"short"}}}}},
		{"account twice", providers.Config{Stripe: []providers.StripeAccount{{Tenant: "acme", Account: "a", Secrets: good.Secrets}, {Tenant: "b", Account: "a", Secrets: good.Secrets}}}},
		{"bad short code", providers.Config{MPesa: []providers.MPesaAccount{{Tenant: "acme", ShortCode: "12", Secret: mpesaKey}}}},
		{"short code twice", providers.Config{MPesa: []providers.MPesaAccount{{Tenant: "acme", ShortCode: "600984", Secret: mpesaKey}, {Tenant: "b", ShortCode: "600984", Secret: mpesaKey}}}},
		{"m-pesa without a secret", providers.Config{MPesa: []providers.MPesaAccount{{Tenant: "acme", ShortCode: "600984"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate()
			require.Error(t, err)
			assert.NotContains(t, err.Error(), acmeSecret, "errors never show a secret")
			assert.NotContains(t, err.Error(), mpesaKey)
		})
	}
	require.NoError(t, (&providers.Config{Stripe: []providers.StripeAccount{good}}).Validate())
	out, err := json.Marshal(good)
	require.NoError(t, err)
	assert.NotContains(t, string(out), acmeSecret, "a secret marshals redacted")
}

// bigRegistry has n Stripe accounts with an endpoint each ("ep0", "ep1", ...) and four
// secrets, and acme and globex without an endpoint (three secrets between them).
func bigRegistry(t *testing.T, n int) *providers.Registry {
	t.Helper()
	c := providers.Config{Stripe: []providers.StripeAccount{
		{Tenant: "acme", Secrets: []providers.Secret{acmeSecret, newSecret}},
		{Tenant: "globex", Secrets: []providers.Secret{globexKey}},
	}}
	for i := range n {
		var secrets []providers.Secret
		for j := range providers.MaxSecretsPerAccount {
			secrets = append(secrets, providers.Secret(fmt.Sprintf("whsec_tenant%d_secret%d_0123456789", i, j)))
		}
		c.Stripe = append(c.Stripe, providers.StripeAccount{Tenant: fmt.Sprintf("isp%d", i), Endpoint: fmt.Sprintf("ep%d", i), Secrets: secrets})
	}
	r, err := providers.NewRegistry(c)
	require.NoError(t, err)
	r.Now = func() time.Time { return clock }
	return r
}

// An anonymous callback, signed by no configured secret, costs a bounded number of HMACs
// however many accounts are configured: none with a timestamp outside the tolerance or an
// unknown endpoint, at most one account's secrets with an endpoint, at most
// MaxUnselectedSecrets without one.
func TestStripeHMACsPerCallbackAreBounded(t *testing.T) {
	r := bigRegistry(t, providers.MaxAccounts-2)
	body := append(stripeEvent("payment_intent.succeeded", ""), bytes.Repeat([]byte(" "), 256<<10-200)...)
	forged := providers.SignStripe(body, "whsec_attacker_0123456789abcdef", clock)
	tests := []struct {
		name     string
		endpoint string
		header   string
		macs     int64
		err      error
	}{
		{name: "no endpoint", header: forged, macs: 3, err: providers.ErrBadSignature},
		{name: "an endpoint", endpoint: "ep7", header: forged, macs: providers.MaxSecretsPerAccount, err: providers.ErrBadSignature},
		{name: "an unknown endpoint", endpoint: "nope", header: forged, macs: 0, err: providers.ErrUnknownAccount},
		{name: "stale, no endpoint", header: providers.SignStripe(body, "whsec_attacker_0123456789abcdef", clock.Add(-time.Hour)), macs: 0, err: providers.ErrStaleTimestamp},
		{name: "stale, an endpoint", endpoint: "ep7", header: providers.SignStripe(body, "whsec_attacker_0123456789abcdef", clock.Add(time.Hour)), macs: 0, err: providers.ErrStaleTimestamp},
		{name: "eight signatures, no endpoint", header: forged + strings.Repeat(",v1="+strings.Repeat("ab", 32), 7), macs: 3, err: providers.ErrBadSignature},
		{name: "the endpoint's secret", endpoint: "ep997", header: providers.SignStripe(body, "whsec_tenant997_secret3_0123456789", clock), macs: providers.MaxSecretsPerAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := providers.StripeMACs()
			v, err := r.Verify(providers.ProviderStripe, providers.Request{Endpoint: tt.endpoint, StripeSignature: tt.header, Body: body})
			assert.Equal(t, tt.macs, providers.StripeMACs()-before, "HMACs computed")
			if tt.err != nil {
				require.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "isp997", v.Tenant.String())
		})
	}
}

// An account with an endpoint takes callbacks to its URL only; accounts without one take the
// rest, as before endpoints existed.
func TestStripeEndpoints(t *testing.T) {
	r := bigRegistry(t, 2)
	body := stripeEvent("payment_intent.succeeded", "")
	isp1 := providers.SignStripe(body, "whsec_tenant1_secret0_0123456789", clock)
	v, err := r.Verify(providers.ProviderStripe, providers.Request{Endpoint: "ep1", StripeSignature: isp1, Body: body})
	require.NoError(t, err)
	assert.Equal(t, "isp1", v.Tenant.String())
	_, err = r.Verify(providers.ProviderStripe, providers.Request{StripeSignature: isp1, Body: body})
	require.ErrorIs(t, err, providers.ErrBadSignature, "not to the URL without an endpoint")
	_, err = r.Verify(providers.ProviderStripe, providers.Request{Endpoint: "ep0", StripeSignature: isp1, Body: body})
	require.ErrorIs(t, err, providers.ErrBadSignature, "not to another endpoint")
	v, err = r.Verify(providers.ProviderStripe, providers.Request{StripeSignature: providers.SignStripe(body, globexKey, clock), Body: body})
	require.NoError(t, err)
	assert.Equal(t, "globex", v.Tenant.String(), "an account without an endpoint, as before")
}

// Too many secrets without an endpoint is refused at start, with what to do: on the old code
// such a configuration was accepted, and each anonymous callback was checked against all of
// them.
func TestConfigBoundsUnselectedSecrets(t *testing.T) {
	var c providers.Config
	for i := range 3 {
		c.Stripe = append(c.Stripe, providers.StripeAccount{Tenant: fmt.Sprintf("isp%d", i),
			Secrets: []providers.Secret{acmeSecret + "a", acmeSecret + "b", acmeSecret + "c"}})
	}
	err := c.Validate()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "endpoint")
	c.Stripe[0].Endpoint = "isp0"
	require.NoError(t, c.Validate(), "6 secrets without an endpoint")
	c.Stripe[1].Endpoint = "isp0"
	require.ErrorContains(t, c.Validate(), "configured twice")
	c.Stripe[1].Endpoint = "isp 1"
	require.ErrorContains(t, c.Validate(), "endpoint")
}
