package providers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// Limits of the Stripe-Signature header.
const (
	// MaxSignatureHeaderBytes bounds the header read.
	MaxSignatureHeaderBytes = 4096
	// maxSignatures bounds the v1 signatures considered (one per secret being rotated).
	maxSignatures = 8
)

// StripeSignature is a parsed Stripe-Signature header: "t=<unix seconds>,v1=<hex>,v1=<hex>"
// (other schemes, such as v0, are ignored).
type StripeSignature struct {
	Timestamp int64
	V1        [][]byte
}

// ParseStripeSignature parses a Stripe-Signature header. It accepts elements in any order,
// ignores unknown schemes, and refuses (ErrBadSignature) a header without exactly one t, a t
// that is not a non-negative integer, no v1, a v1 that is not 32 bytes of hex, more than
// maxSignatures v1 or more than MaxSignatureHeaderBytes.
func ParseStripeSignature(header string) (StripeSignature, error) {
	var s StripeSignature
	if len(header) > MaxSignatureHeaderBytes {
		return s, fmt.Errorf("%w: header too long", ErrBadSignature)
	}
	seenT := false
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return StripeSignature{}, fmt.Errorf("%w: element without '='", ErrBadSignature)
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if seenT || err != nil || n < 0 {
				return StripeSignature{}, fmt.Errorf("%w: want one timestamp t=<unix seconds>", ErrBadSignature)
			}
			s.Timestamp, seenT = n, true
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size || len(s.V1) == maxSignatures {
				return StripeSignature{}, fmt.Errorf("%w: v1 must be at most %d HMAC-SHA256 hex digests", ErrBadSignature, maxSignatures)
			}
			s.V1 = append(s.V1, sig)
		}
	}
	if !seenT || len(s.V1) == 0 {
		return StripeSignature{}, fmt.Errorf("%w: want t= and at least one v1=", ErrBadSignature)
	}
	return s, nil
}

// SignStripe returns the Stripe-Signature header of payload signed with secret at t: what a
// gateway sends (dotmac dev gateway, tests).
func SignStripe(payload []byte, secret string, t time.Time) string {
	return fmt.Sprintf("t=%d,v1=%s", t.Unix(), hex.EncodeToString(stripeMAC(payload, []byte(secret), t.Unix())))
}

// stripeMACs counts the HMACs computed over callback bodies (tests bound it per request).
var stripeMACs atomic.Int64

func stripeMAC(payload, secret []byte, t int64) []byte {
	stripeMACs.Add(1)
	m := hmac.New(sha256.New, secret)
	m.Write(strconv.AppendInt(nil, t, 10))
	m.Write([]byte{'.'})
	m.Write(payload)
	return m.Sum(nil)
}

// verifies reports whether any v1 of sig is payload's HMAC under any of secrets, comparing
// in constant time (every pair is compared, a match does not end the loop early).
func (sig StripeSignature) verifies(payload []byte, secrets [][]byte) bool {
	ok := false
	for _, secret := range secrets {
		want := stripeMAC(payload, secret, sig.Timestamp)
		for _, got := range sig.V1 {
			ok = hmac.Equal(want, got) || ok
		}
	}
	return ok
}

// stripeEvent is the part of a Stripe event read here.
type stripeEvent struct {
	ID      string `json:"id"`
	Type    string `json:"type"`
	Account string `json:"account"`
	Created int64  `json:"created"`
	Data    struct {
		Object stripeObject `json:"object"`
	} `json:"data"`
}

// stripeObject is a payment intent or a charge.
type stripeObject struct {
	ID             string            `json:"id"`
	Object         string            `json:"object"`
	Amount         int64             `json:"amount"`
	AmountReceived *int64            `json:"amount_received"`
	Currency       string            `json:"currency"`
	Status         string            `json:"status"`
	PaymentIntent  string            `json:"payment_intent"`
	Metadata       map[string]string `json:"metadata"`
	BillingDetails struct {
		Name string `json:"name"`
	} `json:"billing_details"`
}

// verifyStripe finds the Stripe account whose secret signed body and reads the payment.
func (r *Registry) verifyStripe(endpoint, header string, body []byte) (Verified, error) {
	sig, err := ParseStripeSignature(header)
	if err != nil {
		return Verified{}, err
	}
	var ev stripeEvent
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID == "" || ev.Type == "" {
		return Verified{}, fmt.Errorf("%w: not a Stripe event", ErrMalformed)
	}
	acc, err := r.stripeAccount(sig, endpoint, ev.Account, body)
	if err != nil {
		return Verified{}, err
	}
	v := Verified{Tenant: acc.tenant, Provider: ProviderStripe, EventID: ev.ID}
	v.Payment, err = stripePayment(ev)
	return v, err
}

// stripeAccount returns the account whose secrets verify the signature, among the candidates:
// the account of the endpoint the URL names, when it names one; else the account a (Connect)
// event names when one is configured with that id; for an event naming an account configured
// nowhere, the accounts configured without an id; for an event naming none (a gateway
// account's own events), every account. Only accounts without an endpoint are candidates of a
// URL naming none, so one request computes at most MaxSecretsPerAccount HMACs (an endpoint or
// a configured account named) or MaxUnselectedSecrets (neither) over the body. A candidate
// whose tolerance the signed timestamp is outside is never checked: a stale or future
// timestamp costs no HMAC at all.
func (r *Registry) stripeAccount(sig StripeSignature, endpoint, account string, body []byte) (stripeAccount, error) {
	now := time.Now()
	if r.Now != nil {
		now = r.Now()
	}
	age := now.Sub(time.Unix(sig.Timestamp, 0))
	fresh := func(a stripeAccount) bool { return age <= a.tolerance && age >= -a.tolerance }
	if endpoint != "" {
		i := slices.IndexFunc(r.stripe, func(a stripeAccount) bool { return a.endpoint == endpoint })
		switch {
		case i < 0:
			return stripeAccount{}, fmt.Errorf("%w: no stripe endpoint %q", ErrUnknownAccount, clip(endpoint, 64))
		case account != "" && r.stripe[i].account != "" && r.stripe[i].account != account:
			return stripeAccount{}, fmt.Errorf("%w: the event names account %q, not the endpoint's", ErrUnknownAccount, clip(account, 64))
		case !fresh(r.stripe[i]):
			return stripeAccount{}, staleError(age, r.stripe[i].tolerance)
		case !sig.verifies(body, r.stripe[i].secrets):
			return stripeAccount{}, ErrBadSignature
		}
		return r.stripe[i], nil
	}
	named := account != "" && slices.ContainsFunc(r.stripe, func(a stripeAccount) bool { return a.account == account })
	known, stale := false, time.Duration(0)
	for _, a := range r.stripe {
		if named && a.account != account || !named && (a.endpoint != "" || account != "" && a.account != "") {
			continue
		}
		known = true
		if !fresh(a) {
			stale = a.tolerance
			continue
		}
		if sig.verifies(body, a.secrets) {
			return a, nil
		}
	}
	switch {
	case !known:
		return stripeAccount{}, ErrUnknownAccount
	case stale != 0:
		return stripeAccount{}, staleError(age, stale)
	}
	return stripeAccount{}, ErrBadSignature
}

func staleError(age, tolerance time.Duration) error {
	return fmt.Errorf("%w: signed %s from now, tolerance %s", ErrStaleTimestamp, age.Round(time.Second), tolerance)
}

// stripePayment reads the payment of a payment_intent.succeeded or charge.succeeded event. The
// payment is identified by its payment intent (a charge's payment_intent, else the charge),
// so that both events of one payment, and every redelivery, record it once.
func stripePayment(ev stripeEvent) (commands.ProviderPayment, error) {
	o := ev.Data.Object
	amount := o.Amount
	switch ev.Type {
	case "payment_intent.succeeded":
		if o.AmountReceived != nil {
			amount = *o.AmountReceived
		}
	case "charge.succeeded":
	default:
		return commands.ProviderPayment{}, fmt.Errorf("%w: event type %s", ErrIgnored, ev.Type)
	}
	id := o.ID
	if o.PaymentIntent != "" {
		id = o.PaymentIntent
	}
	cur, err := domain.ParseCurrency(strings.ToUpper(o.Currency))
	switch {
	case err != nil:
		return commands.ProviderPayment{}, fmt.Errorf("%w: currency %q", ErrMalformed, o.Currency)
	case !transIDPattern.MatchString(id) || amount <= 0:
		return commands.ProviderPayment{}, fmt.Errorf("%w: a payment needs an object id and a positive amount", ErrMalformed)
	case ev.Created <= 0:
		return commands.ProviderPayment{}, fmt.Errorf("%w: no created time", ErrMalformed)
	}
	ref := o.Metadata["customer_id"]
	if ref == "" {
		ref = o.Metadata["account_reference"]
	}
	return commands.ProviderPayment{Provider: ProviderStripe, EventID: id, AccountReference: clip(ref, domain.MaxExternalReferenceBytes),
		Amount: domain.MoneyFromMinorUnits(amount, cur), Method: domain.PaymentMethodCard,
		Payer: clip(o.BillingDetails.Name, domain.MaxPayerRunes), ReceivedAt: time.Unix(ev.Created, 0).UTC()}, nil
}
