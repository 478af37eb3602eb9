package providers

import (
	"errors"
	"net/netip"
)

// The ways a callback is refused. The command API answers each one (see docs/payments-in.md);
// none of them records anything, and each is safe for the provider to retry.
var (
	// ErrUnknownProvider: the path names no provider this server knows.
	ErrUnknownProvider = errors.New("unknown payment provider")
	// ErrMalformed: the body is not the provider's callback shape.
	ErrMalformed = errors.New("malformed callback")
	// ErrBadSignature: a Stripe-Signature header missing, unreadable or signed by no
	// configured secret.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrStaleTimestamp: a Stripe-Signature timestamp outside the tolerance (a replay or a
	// clock far off).
	ErrStaleTimestamp = errors.New("signature timestamp outside the tolerance")
	// ErrUnknownAccount: no tenant has the provider account the callback is for (an M-Pesa
	// short code, a Stripe account id).
	ErrUnknownAccount = errors.New("unknown provider account")
	// ErrSourceNotAllowed: an M-Pesa confirmation from an address outside the account's
	// allow-list.
	ErrSourceNotAllowed = errors.New("source address not allowed")
	// ErrBadSecret: an M-Pesa confirmation without the account's shared secret.
	ErrBadSecret = errors.New("shared secret missing or wrong")
	// ErrIgnored: a verified callback that reports no money received (another event type,
	// a failed payment): answered as received, recorded nothing.
	ErrIgnored = errors.New("callback reports no payment")

	errTooLarge = errors.New("file too large")
)

// prefix is an allowed network.
type prefix struct{ p netip.Prefix }

func (p prefix) contains(a netip.Addr) bool { return p.p.Contains(a.Unmap()) }
