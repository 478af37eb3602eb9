package providers

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// transIDPattern is an M-Pesa transaction id, or a Stripe object id, as recorded.
var transIDPattern = regexp.MustCompile(`^[A-Za-z0-9_]{1,64}$`)

// Request is a callback as received.
type Request struct {
	// StripeSignature is the Stripe-Signature header.
	StripeSignature string
	// Endpoint is the Stripe webhook endpoint the callback's URL names (query parameter
	// "endpoint"), "" if none.
	Endpoint string
	// MPesa is the source address and shared secret of an M-Pesa confirmation.
	MPesa MPesaRequest
	// Body is the raw body, exactly as received (the signature is over these bytes).
	Body []byte
}

// Verified is a callback whose origin is proven: the tenant it is for and what was paid.
type Verified struct {
	Tenant   domain.TenantID
	Provider string
	// EventID is the provider's event id (Stripe); Payment.EventID is the id the payment is
	// recorded once under.
	EventID string
	Payment commands.ProviderPayment
}

// Verify checks a callback of provider and reads its payment. Errors: ErrUnknownProvider;
// ErrMalformed; ErrBadSignature; ErrStaleTimestamp; ErrUnknownAccount; ErrSourceNotAllowed;
// ErrBadSecret; ErrIgnored (verified: Verified.Tenant is set, nothing to record).
func (r *Registry) Verify(provider string, req Request) (Verified, error) {
	if r == nil {
		r = &Registry{}
	}
	switch provider {
	case ProviderStripe:
		return r.verifyStripe(req.Endpoint, req.StripeSignature, req.Body)
	case ProviderMPesa:
		return r.verifyMPesa(req.MPesa, req.Body)
	}
	return Verified{}, fmt.Errorf("%w %q", ErrUnknownProvider, provider)
}

// clip makes provider text recordable: control characters dropped, spaces trimmed, at most
// n runes.
func clip(s string, n int) string {
	s = strings.TrimSpace(strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == unicode.ReplacementChar {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "")))
	if r := []rune(s); len(r) > n {
		s = strings.TrimSpace(string(r[:n]))
	}
	return s
}
