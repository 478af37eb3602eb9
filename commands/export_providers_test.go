package commands

import "github.com/dotmac/ledger/domain"

// ProviderPaymentIDs returns the receipt id (the claim's key) and the account payment id
// RecordProviderPayment derives for p.
func ProviderPaymentIDs(t domain.TenantID, p ProviderPayment) (domain.ReceiptID, domain.PaymentID, error) {
	receipt, command, err := providerIDs(t, p)
	if err != nil {
		return receipt, domain.PaymentID{}, err
	}
	payment, err := idFor(Meta{CommandID: command}, "payment", domain.NewPaymentID)
	return receipt, payment, err
}
