package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/internal/auth"
	"github.com/dotmac/ledger/internal/pgtest"
)

const (
	gatewayStripeSecret = "whsec_gateway_test_0123456789"
	gatewayMPesaSecret  = "mpesa_gateway_test_0123456789"
)

// The README's walk-through: `dotmac dev gateway --case all` against a running server gets
// every documented answer from both providers; the receipts it left are listed and allocated
// with the CLI.
func TestDevGatewayAgainstARunningServer(t *testing.T) {
	t.Parallel()
	cfg := filepath.Join(t.TempDir(), "providers.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{
	  "stripe": [{"tenant": "acme", "secrets": ["`+gatewayStripeSecret+`"]}],
	  "mpesa": [{"tenant": "acme", "shortcode": "600984", "secret": "`+gatewayMPesaSecret+`", "allow_from": ["127.0.0.0/8", "::1/128"]}]
	}`), 0o600))
	url := pgtest.SchemaURL(t)
	s := startServerOn(t, url, "--process-managers=false", "--payment-providers", cfg)
	tok, err := s.key.Mint(auth.Principal{Subject: "test", Tenant: "acme", Permissions: []string{auth.All}}, time.Now(), time.Hour)
	require.NoError(t, err)
	customer := func(currency string) string {
		r := s.do(t, http.MethodPost, s.command+"/v1/customers", tok, "gateway-"+currency, map[string]any{
			"name": "Wanjiru " + currency, "email": "w@example.com", "billing_address": "1 Moi Ave, Nairobi", "currency": currency})
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
		return fmt.Sprint(r.json(t)["id"])
	}
	usd, kes := customer("USD"), customer("KES")

	out, err := runDotmac(t, "dev", "gateway", "--url", s.command, "--provider", "stripe", "--secret", gatewayStripeSecret,
		"--customer", usd, "--amount", "79.99", "--case", "all")
	require.NoError(t, err, out)
	assert.NotContains(t, out, "differs")
	assert.Equal(t, 7, strings.Count(out, "\n")-1, "six cases, the replay twice: %s", out)

	out, err = runDotmac(t, "dev", "gateway", "--url", s.command, "--provider", "mpesa", "--secret", gatewayMPesaSecret,
		"--customer", kes, "--amount", "1500", "--currency", "KES", "--case", "all")
	require.NoError(t, err, out)
	assert.NotContains(t, out, "differs")

	// A wrong answer is reported: an M-Pesa payment to the USD customer is no recorded payment.
	out, err = runDotmac(t, "dev", "gateway", "--url", s.command, "--provider", "mpesa", "--secret", gatewayMPesaSecret,
		"--customer", usd, "--amount", "5", "--currency", "KES", "--case", "all")
	require.Error(t, err)
	assert.Contains(t, out, "differs")

	// The Stripe run left a USD receipt (unknown account) and a EUR one (currency mismatch); the
	// M-Pesa runs a KES one each (unknown account) and two to the USD customer (currency
	// mismatch: its ok and replay cases). List them, allocate the USD one.
	list := listReceipts(t, url, "6 receipts")
	usdReceipt := regexp.MustCompile(`(?m)^(\S+)\s+79\.99 USD`).FindStringSubmatch(list)
	require.NotNil(t, usdReceipt, list)
	out, err = runDotmac(t, "receipts", "allocate", usdReceipt[1], usd, "--tenant", "acme", "--database-url", url)
	require.NoError(t, err, out)
	assert.Contains(t, out, "79.99 USD customer credit")
	out, err = runDotmac(t, "receipts", "allocate", usdReceipt[1], usd, "--tenant", "acme", "--database-url", url)
	require.NoError(t, err, out)
	assert.Contains(t, out, "already")
	listReceipts(t, url, "5 receipts")

	// Every journal entry balances, the journal nets to zero, every account folds to its
	// journal balance, and every read model (the catalog and MRR fed by no event here) equals
	// a fresh fold.
	out, err = runDotmac(t, "audit", "verify", "--deep", "--database-url", url)
	require.NoError(t, err, out)
}

// listReceipts runs dotmac receipts list until its output says want (the read model catches up).
func listReceipts(t *testing.T, url, want string) string {
	t.Helper()
	var list string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		var err error
		list, err = runDotmac(t, "receipts", "list", "--tenant", "acme", "--database-url", url, "--log-level", "warn")
		require.NoError(c, err, list)
		require.Contains(c, list, want)
	}, time.Minute, 100*time.Millisecond)
	return list
}
