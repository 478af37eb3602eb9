package providers

import (
	"bytes"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/dotmac/ledger/commands"
	"github.com/dotmac/ledger/domain"
)

// eat is East Africa Time, in which Daraja writes TransTime (UTC+3, no daylight saving).
var eat = time.FixedZone("EAT", 3*60*60)

// mpesaConfirmation is a Daraja C2B confirmation callback.
type mpesaConfirmation struct {
	TransactionType   string          `json:"TransactionType"`
	TransID           string          `json:"TransID"`
	TransTime         string          `json:"TransTime"`
	TransAmount       json.RawMessage `json:"TransAmount"`
	BusinessShortCode string          `json:"BusinessShortCode"`
	BillRefNumber     string          `json:"BillRefNumber"`
	InvoiceNumber     string          `json:"InvoiceNumber"`
	OrgAccountBalance string          `json:"OrgAccountBalance"`
	ThirdPartyTransID string          `json:"ThirdPartyTransID"`
	MSISDN            string          `json:"MSISDN"`
	FirstName         string          `json:"FirstName"`
	MiddleName        string          `json:"MiddleName"`
	LastName          string          `json:"LastName"`
}

// MPesaRequest is what an M-Pesa confirmation is checked with besides its body.
type MPesaRequest struct {
	// Source is the address the request came from (the connection's peer).
	Source netip.Addr
	// Secret is the shared secret the request carried ("" if none).
	Secret string
}

// verifyMPesa finds the short code's account, checks the source address and the secret, and
// reads the payment.
func (r *Registry) verifyMPesa(req MPesaRequest, body []byte) (Verified, error) {
	var c mpesaConfirmation
	if err := json.Unmarshal(body, &c); err != nil || c.TransID == "" || c.BusinessShortCode == "" {
		return Verified{}, fmt.Errorf("%w: not an M-Pesa C2B confirmation", ErrMalformed)
	}
	acc, ok := r.mpesa[c.BusinessShortCode]
	if !ok {
		return Verified{}, ErrUnknownAccount
	}
	if !acc.allows(req.Source) {
		return Verified{}, ErrSourceNotAllowed
	}
	if subtle.ConstantTimeCompare([]byte(req.Secret), acc.secret) != 1 {
		return Verified{}, ErrBadSecret
	}
	p, err := mpesaPayment(c, acc.currency)
	return Verified{Tenant: acc.tenant, Provider: ProviderMPesa, EventID: c.TransID, Payment: p}, err
}

// allows reports whether a confirmation from addr is allowed: any address when the
// allow-list is empty.
func (a mpesaAccount) allows(addr netip.Addr) bool {
	if len(a.allow) == 0 {
		return true
	}
	for _, p := range a.allow {
		if addr.IsValid() && p.contains(addr) {
			return true
		}
	}
	return false
}

func mpesaPayment(c mpesaConfirmation, cur domain.Currency) (commands.ProviderPayment, error) {
	received, err := time.ParseInLocation("20060102150405", c.TransTime, eat)
	if err != nil {
		return commands.ProviderPayment{}, fmt.Errorf("%w: TransTime %q: want yyyyMMddHHmmss", ErrMalformed, c.TransTime)
	}
	amount, err := domain.ParseAmount(string(bytes.Trim(c.TransAmount, `"`)), cur)
	if err != nil || !amount.IsPositive() {
		return commands.ProviderPayment{}, fmt.Errorf("%w: TransAmount %s", ErrMalformed, c.TransAmount)
	}
	if !transIDPattern.MatchString(c.TransID) {
		return commands.ProviderPayment{}, fmt.Errorf("%w: TransID %q", ErrMalformed, c.TransID)
	}
	return commands.ProviderPayment{Provider: ProviderMPesa, EventID: c.TransID,
		AccountReference: clip(c.BillRefNumber, domain.MaxExternalReferenceBytes), Amount: amount,
		Method: domain.PaymentMethodMobileMoney, Payer: clip(strings.TrimSpace(maskMSISDN(c.MSISDN)+" "+c.FirstName), domain.MaxPayerRunes),
		ReceivedAt: received.UTC()}, nil
}

// maskMSISDN keeps the first four and last three digits of a phone number; Daraja's hashed
// MSISDNs (64 hex digits) keep their first eight.
func maskMSISDN(s string) string {
	switch {
	case len(s) == 64:
		return "hash:" + s[:8]
	case len(s) > 7:
		return s[:4] + strings.Repeat("*", len(s)-7) + s[len(s)-3:]
	}
	return s
}
