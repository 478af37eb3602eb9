package commands

import (
	"context"

	"github.com/dotmac/ledger/domain"
)

// maxReferencedPayments bounds the payments of one external reference a provider payment's
// booking looks at.
const maxReferencedPayments = 20

// ReferencedPayment is a payment recorded on a customer's account with an external reference.
type ReferencedPayment struct {
	CustomerID domain.CustomerID
	PaymentID  domain.PaymentID
	Method     domain.PaymentMethod
}

// PaymentReferences is implemented by BillingIndexes that also index the payments recorded on
// customers' accounts by their external reference (package pgstore's does), fed from the
// event store's global feed as the billing index is. A provider payment that nothing claimed
// yet looks there for a booking made before claims existed: an older binary recorded the
// payment of a callback naming the customer on the account alone, with the provider's
// reference and no claim, so a later event of the same payment naming nobody must find it
// without knowing the account.
type PaymentReferences interface {
	// PaymentsByReference catches up with the feed and lists the payments of tenant whose
	// external reference is ref, oldest first, at most limit of them.
	PaymentsByReference(ctx context.Context, tenant domain.TenantID, ref string, limit int) ([]ReferencedPayment, error)
}

// bookedPayment returns the payment recorded on an account for p before claims existed, if
// any: a payment of p's method and reference still on the account it was recorded on. Without
// a PaymentReferences index there is nothing to look in, and ok is false.
func (h *Handlers) bookedPayment(ctx context.Context, m Meta, p ProviderPayment) (customer domain.CustomerID, payment domain.PaymentState, ok bool, err error) {
	refs, indexed := h.index.(PaymentReferences)
	if !indexed {
		return customer, payment, false, nil
	}
	ref := p.ExternalReference()
	found, err := refs.PaymentsByReference(ctx, m.Tenant, ref, maxReferencedPayments)
	if err != nil {
		return customer, payment, false, err
	}
	for _, f := range found {
		if f.Method != p.Method {
			continue
		}
		a, _, err := load(ctx, h, accountAggregate, domain.CustomerStream(m.Tenant, f.CustomerID))
		if err != nil {
			return customer, payment, false, err
		}
		if pay, ok := a.Payment(f.PaymentID); ok && pay.Method == p.Method && pay.ExternalReference == ref {
			return f.CustomerID, pay, true, nil
		}
	}
	return customer, payment, false, nil
}
