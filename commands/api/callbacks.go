package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/netip"
	"strings"

	"github.com/gorilla/mux"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/commands/providers"
	"github.com/dotmac/ledger/domain"
	"github.com/dotmac/ledger/eventstore"
	"github.com/dotmac/ledger/internal/httpx"
)

// CallbackPath is the route of payment-provider callbacks. It takes no bearer token and no
// Idempotency-Key: the provider's signature (or source address and shared secret) proves the
// callback, and the provider's payment id makes it idempotent.
const CallbackPath = "/v1/providers/{provider}/callbacks"

// Callback headers and parameters.
const (
	HeaderStripeSignature = "Stripe-Signature"
	HeaderCallbackSecret  = "X-Callback-Secret" //nolint:gosec // a header name, not a secret
	queryCallbackSecret   = "secret"
	// queryStripeEndpoint names the Stripe webhook endpoint (StripeAccount.Endpoint) whose
	// secrets alone verify the callback.
	queryStripeEndpoint = "endpoint"
)

// maxCallbackBytes bounds a callback body (Stripe events are a few kilobytes, M-Pesa's less).
const maxCallbackBytes = 256 << 10

// callbackAnswer is the body of a callback that was recorded, recorded before, or ignored.
type callbackAnswer struct {
	Received bool   `json:"received"`
	Outcome  string `json:"outcome"`
	ID       string `json:"id,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Position uint64 `json:"position,omitempty"`
}

// mpesaAnswer is the body Safaricom expects from a confirmation URL (ResultCode 0: accepted),
// with the outcome beside it.
type mpesaAnswer struct {
	ResultCode any    `json:"ResultCode"`
	ResultDesc string `json:"ResultDesc"`
	callbackAnswer
}

// callback serves POST /v1/providers/{provider}/callbacks.
func (a *API) callback(w http.ResponseWriter, r *http.Request) {
	provider := mux.Vars(r)["provider"]
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCallbackBytes))
	if err != nil {
		a.countCallback(provider, "too-large")
		answerRefusal(w, r, provider, httpx.TooLarge(maxCallbackBytes), "C2B00016")
		return
	}
	v, err := a.cfg.Providers.Verify(provider, providers.Request{StripeSignature: r.Header.Get(HeaderStripeSignature),
		Endpoint: r.URL.Query().Get(queryStripeEndpoint),
		MPesa:    providers.MPesaRequest{Source: sourceOf(r), Secret: callbackSecret(r)}, Body: body})
	if errors.Is(err, providers.ErrIgnored) {
		a.countCallback(provider, "ignored")
		answer(w, provider, callbackAnswer{Received: true, Outcome: "ignored", Reason: err.Error()})
		return
	}
	if err != nil {
		p, code := refusal(err)
		a.countCallback(provider, strings.TrimPrefix(p.Type, "/problems/"))
		answerRefusal(w, r, provider, p, code)
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.cfg.CommandTimeout)
	defer cancel()
	info := httpx.InfoFrom(r.Context())
	m := commands.Meta{Tenant: v.Tenant, Actor: "provider/" + provider, CausationID: v.Provider + ":" + v.EventID}
	if info != nil {
		m.RequestID, m.CorrelationID = info.RequestID, info.CorrelationID
	}
	res, err := a.cfg.Handlers.RecordProviderPayment(ctx, m, v.Payment)
	if err != nil {
		p, code := recordRefusal(r, err)
		a.countCallback(provider, strings.TrimPrefix(p.Type, "/problems/"))
		answerRefusal(w, r, provider, p, code)
		return
	}
	a.countCallback(provider, string(res.Outcome))
	answer(w, provider, callbackAnswer{Received: true, Outcome: string(res.Outcome), ID: res.ID, Reason: res.Reason.String(),
		Position: uint64(res.Position)})
}

// countCallback counts one callback. The provider label is the path's only when it names a
// known provider, so that callers cannot mint series.
func (a *API) countCallback(provider, outcome string) {
	if !providers.Known(provider) {
		provider = "unknown"
	}
	if outcome == "" {
		outcome = "error"
	}
	a.callbacks.WithLabelValues(provider, outcome).Inc()
}

// refusal maps a verification error to its problem and M-Pesa result code.
func refusal(err error) (*httpx.Problem, string) {
	for _, c := range []struct {
		err    error
		status int
		typ    string
		code   string
	}{
		{providers.ErrUnknownProvider, http.StatusNotFound, "unknown-provider", "C2B00016"},
		{providers.ErrMalformed, http.StatusBadRequest, "malformed-callback", "C2B00016"},
		{providers.ErrBadSignature, http.StatusBadRequest, "bad-signature", "C2B00016"},
		{providers.ErrStaleTimestamp, http.StatusBadRequest, "stale-timestamp", "C2B00016"},
		{providers.ErrUnknownAccount, http.StatusNotFound, "unknown-provider-account", "C2B00015"},
		{providers.ErrSourceNotAllowed, http.StatusForbidden, "source-not-allowed", "C2B00016"},
		{providers.ErrBadSecret, http.StatusUnauthorized, "bad-secret", "C2B00016"},
	} {
		if errors.Is(err, c.err) {
			return &httpx.Problem{Type: "/problems/" + c.typ, Title: c.err.Error(), Status: c.status, Detail: err.Error()}, c.code
		}
	}
	return &httpx.Problem{Type: "/problems/malformed-callback", Title: "malformed callback", Status: http.StatusBadRequest, Detail: err.Error()}, "C2B00016"
}

// recordRefusal maps an error of recording a verified payment: an event of a payment booked
// with another amount or currency is a conflict for a person to look at (409), a value the
// domain refuses is the provider's to fix (400), an outage is worth a retry (503), anything else is a 500.
func recordRefusal(r *http.Request, err error) (*httpx.Problem, string) {
	var mismatch *domain.ProviderPaymentMismatchError
	switch {
	case errors.As(err, &mismatch):
		return &httpx.Problem{Type: "/problems/provider-payment-mismatch", Title: "Payment booked with another amount", Status: http.StatusConflict,
			Detail: err.Error()}, "C2B00013"
	case errors.Is(err, domain.ErrInvalid), errors.Is(err, domain.ErrRejected):
		return &httpx.Problem{Type: "/problems/unrecordable-payment", Title: "Payment cannot be recorded", Status: http.StatusBadRequest,
			Detail: err.Error()}, "C2B00013"
	case errors.Is(err, eventstore.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return unavailable(err), "C2B00016"
	}
	return httpx.Internal(httpx.Opaque(r, "record provider payment", err)), "C2B00016"
}

func answer(w http.ResponseWriter, provider string, a callbackAnswer) {
	if provider == providers.ProviderMPesa {
		httpx.WriteJSON(w, http.StatusOK, mpesaAnswer{ResultCode: 0, ResultDesc: "Accepted", callbackAnswer: a})
		return
	}
	httpx.WriteJSON(w, http.StatusOK, a)
}

// answerRefusal writes p: as problem+json, or for M-Pesa as Safaricom's {ResultCode,
// ResultDesc} with p's status.
func answerRefusal(w http.ResponseWriter, r *http.Request, provider string, p *httpx.Problem, code string) {
	if provider != providers.ProviderMPesa {
		httpx.WriteProblem(w, r, p)
		return
	}
	httpx.WriteJSON(w, p.Status, mpesaAnswer{ResultCode: code, ResultDesc: "Rejected: " + p.Title})
}

// sourceOf is the address of the connection's peer. Forwarding headers are not trusted: put
// no proxy in front of the callback route, or one that keeps the peer address (PROXY protocol).
func sourceOf(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// callbackSecret is the shared secret a callback carries, in its header or query.
func callbackSecret(r *http.Request) string {
	if s := r.Header.Get(HeaderCallbackSecret); s != "" {
		return s
	}
	return r.URL.Query().Get(queryCallbackSecret)
}
