package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/shopspring/decimal"
	"github.com/spf13/cobra"

	"github.com/dotmac/ledger/commands/api"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/domain"
)

// gatewayTimeout bounds one callback the gateway sends.
const gatewayTimeout = 30 * time.Second

// The gateway's cases: what it sends, and the outcome docs/payments-in.md documents for it.
const (
	caseOK             = "ok"
	caseReplay         = "replay"
	caseBadSignature   = "bad-signature"
	caseOldTimestamp   = "old-timestamp"
	caseUnknownAccount = "unknown-account"
	caseWrongCurrency  = "wrong-currency"
	caseAll            = "all"
)

// gatewayCases are the cases of each provider, in the order --case all sends them.
var gatewayCases = map[string][]string{
	providers.ProviderStripe: {caseOK, caseReplay, caseBadSignature, caseOldTimestamp, caseUnknownAccount, caseWrongCurrency},
	providers.ProviderMPesa:  {caseOK, caseReplay, caseBadSignature, caseUnknownAccount},
}

type gatewayFlags struct {
	url, provider, secret, customer, amount, currency, wrongCurrency, shortcode, endpoint, event, kase string
}

func newDev(_ *globalFlags) *cobra.Command {
	cmd := &cobra.Command{Use: "dev", Short: "Development tools", Args: cobra.NoArgs}
	f := &gatewayFlags{}
	gw := &cobra.Command{
		Use:   "gateway",
		Short: "Send payment-provider callbacks (signed right, or wrong on request) to a running server",
		Long: `Gateway plays a payment provider against a running command API: it sends a Stripe-style
payment_intent.succeeded event signed with --secret (Stripe-Signature: t=...,v1=HMAC-SHA256), or an
M-Pesa C2B confirmation carrying --secret, paying --amount to the customer --customer, and prints
what the server answered. --case sends it wrong on purpose: bad-signature (another secret; for
M-Pesa a wrong shared secret), old-timestamp (signed ten minutes ago), replay (the same callback
twice: the second must record nothing), unknown-account (an account reference naming nobody: booked
to unallocated receipts), wrong-currency (--wrong-currency instead of --currency: unallocated).
--case all sends every case with fresh ids and fails unless each answer is the documented one.
The server must know the account (DOTMAC_PAYMENT_PROVIDERS, docs/payments-in.md).`,
		Example: `  dotmac dev gateway --provider stripe --secret whsec_demo_0123456789abcdef --customer 019b78f8-9278-7579-bf44-f787143510db --amount 79.99
  dotmac dev gateway --provider mpesa --shortcode 600984 --secret mpesa_demo_0123456789 --customer 019b78f8-9278-7579-bf44-f787143510db --amount 1500 --currency KES
  dotmac dev gateway --provider stripe --secret whsec_demo_0123456789abcdef --customer 019b78f8-9278-7579-bf44-f787143510db --case all`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runGateway(cmd.Context(), cmd.OutOrStdout(), f) },
	}
	fs := gw.Flags()
	fs.StringVar(&f.url, "url", "http://127.0.0.1:8080", "base URL of the command API")
	fs.StringVar(&f.provider, "provider", providers.ProviderStripe, "stripe or mpesa")
	fs.StringVar(&f.secret, "secret", "", "the account's signing secret (stripe) or shared secret (mpesa) (required)")
	fs.StringVar(&f.customer, "customer", "", "customer id the payment names (required)")
	fs.StringVar(&f.amount, "amount", "10.00", "amount paid, a decimal in the currency's major unit")
	fs.StringVar(&f.currency, "currency", "USD", "currency paid (mpesa: the short code's, KES unless configured otherwise)")
	fs.StringVar(&f.wrongCurrency, "wrong-currency", "EUR", "currency of --case wrong-currency")
	fs.StringVar(&f.shortcode, "shortcode", "600984", "mpesa: the BusinessShortCode")
	fs.StringVar(&f.endpoint, "endpoint", "", "stripe: the account's webhook endpoint (sent as ?endpoint=; empty: none)")
	fs.StringVar(&f.event, "event-id", "", "the provider's payment id (default: a fresh one); the same id again is a replay")
	fs.StringVar(&f.kase, "case", caseOK, "ok, replay, bad-signature, old-timestamp, unknown-account, wrong-currency or all")
	cmd.AddCommand(gw)
	return cmd
}

// gatewayResult is what the server answered one callback.
type gatewayResult struct {
	kase, sent, got, want string
	status                int
}

func runGateway(ctx context.Context, out io.Writer, f *gatewayFlags) error {
	cases, ok := gatewayCases[f.provider]
	switch {
	case !ok:
		return errors.New("--provider: want stripe or mpesa")
	case f.secret == "" || f.customer == "":
		return errors.New("--secret and --customer are required")
	case f.kase != caseAll && !slices.Contains(cases, f.kase):
		return fmt.Errorf("--case: %s takes %s or all", f.provider, strings.Join(cases, ", "))
	}
	if f.kase != caseAll {
		cases = []string{f.kase}
	}
	g := &gateway{f: f, client: &http.Client{Timeout: gatewayTimeout}}
	var results []gatewayResult
	for _, c := range cases {
		rs, err := g.send(ctx, c)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	return report(out, results, f.kase == caseAll)
}

// report prints the results; with check, a result other than the documented one is an error.
func report(out io.Writer, results []gatewayResult, check bool) error {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CASE\tSENT\tSTATUS\tANSWER\tDOCUMENTED")
	wrong := 0
	for _, r := range results {
		mark := ""
		if r.got != r.want {
			mark, wrong = " (differs)", wrong+1
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s%s\n", r.kase, r.sent, r.status, r.got, r.want, mark)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if check && wrong > 0 {
		return fmt.Errorf("%d of %d callbacks answered other than documented", wrong, len(results))
	}
	return nil
}

type gateway struct {
	f      *gatewayFlags
	client *http.Client
}

// send sends the callback(s) of case c.
func (g *gateway) send(ctx context.Context, c string) ([]gatewayResult, error) {
	id := g.f.event
	if id == "" || g.f.kase == caseAll {
		id = freshID(g.f.provider)
	}
	cur, ref, secret, at := g.f.currency, g.f.customer, g.f.secret, time.Now()
	want := "recorded"
	switch c {
	case caseBadSignature:
		secret, want = "wrong-"+secret, "/problems/bad-signature"
		if g.f.provider == providers.ProviderMPesa {
			want = "/problems/bad-secret"
		}
	case caseOldTimestamp:
		at, want = at.Add(-10*time.Minute), "/problems/stale-timestamp"
	case caseUnknownAccount:
		ref, want = "UNKNOWN-"+id, "unallocated"
	case caseWrongCurrency:
		cur, want = g.f.wrongCurrency, "unallocated"
	}
	req, sent, err := g.request(ctx, id, cur, ref, secret, at)
	if err != nil {
		return nil, err
	}
	first, err := g.do(req, c, sent, want)
	if err != nil || c != caseReplay {
		return []gatewayResult{first}, err
	}
	again, _, err := g.request(ctx, id, cur, ref, secret, at)
	if err != nil {
		return nil, err
	}
	second, err := g.do(again, c, sent+" again", "duplicate")
	return []gatewayResult{first, second}, err
}

// request builds the callback paying amount in cur to account reference ref under payment id.
func (g *gateway) request(ctx context.Context, id, cur, ref, secret string, at time.Time) (*http.Request, string, error) {
	c, err := domain.ParseCurrency(strings.ToUpper(cur))
	if err != nil {
		return nil, "", err
	}
	amount, err := decimal.NewFromString(g.f.amount)
	if err != nil || !amount.IsPositive() {
		return nil, "", fmt.Errorf("--amount %q: want a positive decimal", g.f.amount)
	}
	u := strings.TrimSuffix(g.f.url, "/") + "/v1/providers/" + g.f.provider + "/callbacks"
	var body []byte
	header := http.Header{"Content-Type": {"application/json"}}
	if g.f.provider == providers.ProviderStripe {
		minor := amount.Shift(c.MinorUnits()).Round(0).IntPart()
		body, err = json.Marshal(map[string]any{"id": "evt_" + id, "object": "event", "type": "payment_intent.succeeded",
			"created": at.Unix(), "data": map[string]any{"object": map[string]any{"id": "pi_" + id, "object": "payment_intent",
				"amount": minor, "amount_received": minor, "currency": strings.ToLower(c.Code()), "status": "succeeded",
				"metadata": map[string]string{"customer_id": ref}}}})
		header.Set(api.HeaderStripeSignature, providers.SignStripe(body, secret, at))
		if g.f.endpoint != "" {
			u += "?" + url.Values{"endpoint": {g.f.endpoint}}.Encode()
		}
	} else {
		body, err = json.Marshal(map[string]string{"TransactionType": "Pay Bill", "TransID": id,
			"TransTime": at.In(time.FixedZone("EAT", 3*3600)).Format("20060102150405"), "TransAmount": amount.StringFixed(c.MinorUnits()),
			"BusinessShortCode": g.f.shortcode, "BillRefNumber": ref, "MSISDN": "254700000000", "FirstName": "DEV"})
		u += "?" + url.Values{"secret": {secret}}.Encode()
	}
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, "", err
	}
	req.Header = header
	return req, fmt.Sprintf("%s %s %s", id, amount.StringFixed(c.MinorUnits()), c.Code()), nil
}

// do sends req and reads the outcome (or the problem type) of the answer.
func (g *gateway) do(req *http.Request, c, sent, want string) (gatewayResult, error) {
	resp, err := g.client.Do(req)
	if err != nil {
		return gatewayResult{}, fmt.Errorf("send the callback to %s: %w", g.f.url, err)
	}
	defer resp.Body.Close()
	var body struct {
		Outcome    string `json:"outcome"`
		Type       string `json:"type"`
		ResultDesc string `json:"ResultDesc"`
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return gatewayResult{}, err
	}
	got := strings.TrimSpace(string(raw))
	if json.Unmarshal(raw, &body) == nil {
		got = body.Outcome + body.Type
		if got == "" {
			got = body.ResultDesc
		}
	}
	if g.f.provider == providers.ProviderMPesa && resp.StatusCode >= 400 {
		got = mpesaProblem(resp.StatusCode)
	}
	return gatewayResult{kase: c, sent: sent, status: resp.StatusCode, got: got, want: want}, nil
}

// mpesaProblem names an M-Pesa refusal by its status (M-Pesa answers carry ResultCode and
// ResultDesc, not a problem type).
func mpesaProblem(status int) string {
	switch status {
	case http.StatusUnauthorized:
		return "/problems/bad-secret"
	case http.StatusForbidden:
		return "/problems/source-not-allowed"
	case http.StatusNotFound:
		return "/problems/unknown-provider-account"
	}
	return fmt.Sprintf("refused (%d)", status)
}

// freshID is a new payment id in the provider's style.
func freshID(provider string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	if provider == providers.ProviderMPesa {
		return "DEV" + strings.ToUpper(hex.EncodeToString(b[:]))
	}
	return "dev_" + hex.EncodeToString(b[:])
}
