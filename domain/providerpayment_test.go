package domain_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
)

func toAccount(amount string) domain.ClaimProviderPayment {
	return domain.ClaimProviderPayment{ReceiptID: receiptID(1), ExternalReference: "stripe:pi_1", Amount: usd(amount),
		Booking: domain.BookedToAccount, Customer: alice, Payment: paymentID(1)}
}

func toReceipt(amount string) domain.ClaimProviderPayment {
	return domain.ClaimProviderPayment{ReceiptID: receiptID(1), ExternalReference: "stripe:pi_1", Amount: usd(amount),
		Booking: domain.BookedToReceipt, Reason: domain.ReceiptUnknownCustomer}
}

func TestDecideProviderPayment(t *testing.T) {
	claimed := must(domain.DecideProviderPayment(domain.ProviderPaymentState{}, toAccount("79.99"), t0))
	eur := toReceipt("79.99")
	eur.Amount = must(domain.ParseMoney("79.99", "EUR"))
	noCustomer, receiptWithPayment, noBooking, noReason := toAccount("1"), toReceipt("1"), toAccount("1"), toReceipt("1")
	noCustomer.Customer = domain.CustomerID{}
	receiptWithPayment.Payment = paymentID(1)
	noBooking.Booking = domain.ProviderBooking{}
	noReason.Reason = domain.ReceiptReason{}
	tests := []struct {
		name    string
		history []domain.Event
		cmd     domain.ClaimProviderPayment
		wantErr any
	}{
		{name: "claim for the account", cmd: toAccount("79.99")},
		{name: "claim for a receipt", cmd: toReceipt("79.99")},
		{name: "claimed: the same booking", history: claimed, cmd: toAccount("79.99"), wantErr: new(*domain.AlreadyExistsError)},
		{name: "claimed: the other booking", history: claimed, cmd: toReceipt("79.99"), wantErr: new(*domain.AlreadyExistsError)},
		{name: "claimed: another amount", history: claimed, cmd: toReceipt("80.00"), wantErr: new(*domain.ProviderPaymentMismatchError)},
		{name: "claimed: another currency", history: claimed, cmd: eur, wantErr: new(*domain.ProviderPaymentMismatchError)},
		{name: "zero amount", cmd: toAccount("0"), wantErr: new(*domain.InvalidValueError)},
		{name: "account without customer", cmd: noCustomer, wantErr: new(*domain.InvalidValueError)},
		{name: "receipt with a payment", cmd: receiptWithPayment, wantErr: new(*domain.InvalidValueError)},
		{name: "no booking", cmd: noBooking, wantErr: new(*domain.InvalidValueError)},
		{name: "receipt without reason", cmd: noReason, wantErr: new(*domain.InvalidValueError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.DecideProviderPayment(must(domain.FoldProviderPayment(tt.history)), tt.cmd, t0)
			if tt.wantErr != nil {
				require.ErrorAs(t, err, tt.wantErr)
				assert.True(t, errors.Is(err, domain.ErrRejected) || errors.Is(err, domain.ErrInvalid))
				return
			}
			require.NoError(t, err)
			require.Len(t, got, 1)
			s := must(domain.FoldProviderPayment(got))
			assert.True(t, s.Claimed())
			assert.Equal(t, tt.cmd.Booking, s.Claim.BookedTo)
			_, posts, _ := domain.Postings(got[0])
			assert.False(t, posts, "a claim moves no money")
		})
	}
	_, err := domain.FoldProviderPayment(append(claimed, claimed...))
	require.ErrorIs(t, err, domain.ErrInvariant, "a payment is claimed once")
}
