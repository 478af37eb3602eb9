package domain_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/dotmac/ledger/domain"
)

// unallocatedReceipt is an M-Pesa receipt numbered n whose account reference named nobody.
func unallocatedReceipt(n int, amount string) domain.RecordUnallocatedReceipt {
	return domain.RecordUnallocatedReceipt{
		ReceiptID: receiptID(n), Amount: usd(amount), Method: domain.PaymentMethodMobileMoney,
		ExternalReference: fmt.Sprintf("mpesa:QK%d", n), AccountReference: "ACME-404", Payer: "2547****126",
		Reason: domain.ReceiptUnknownCustomer, ReceivedAt: t0.Add(-time.Minute),
	}
}

func TestDecideReceipt(t *testing.T) {
	recorded := must(domain.DecideReceipt(domain.ReceiptState{}, unallocatedReceipt(1, "25.00"), t0))
	allocated := slices.Concat(recorded, must(domain.DecideReceipt(must(domain.FoldReceipt(recorded)),
		domain.AllocateReceipt{CustomerID: alice, PaymentID: paymentID(1)}, t0)))
	noReason := unallocatedReceipt(1, "25.00")
	noReason.Reason = domain.ReceiptReason{}
	future := unallocatedReceipt(1, "25.00")
	future.ReceivedAt = t0.Add(time.Second)
	noRef := unallocatedReceipt(1, "25.00")
	noRef.ExternalReference = ""
	tests := []struct {
		name    string
		history []domain.Event
		cmd     domain.ReceiptCommand
		want    []domain.Event
		wantErr any
	}{
		{name: "record", cmd: unallocatedReceipt(1, "25.00"), want: recorded},
		{name: "replayed record", history: recorded, cmd: unallocatedReceipt(1, "25.00"), wantErr: new(*domain.AlreadyExistsError)},
		{name: "zero amount", cmd: unallocatedReceipt(1, "0"), wantErr: new(*domain.InvalidValueError)},
		{name: "negative amount", cmd: unallocatedReceipt(1, "-1"), wantErr: new(*domain.InvalidValueError)},
		{name: "no reason", cmd: noReason, wantErr: new(*domain.InvalidValueError)},
		{name: "received in the future", cmd: future, wantErr: new(*domain.InvalidValueError)},
		{name: "no provider reference", cmd: noRef, wantErr: new(*domain.InvalidValueError)},
		{name: "allocate", history: recorded, cmd: domain.AllocateReceipt{CustomerID: alice, PaymentID: paymentID(1)},
			want: []domain.Event{domain.UnallocatedReceiptAllocated{ReceiptID: receiptID(1), CustomerID: alice,
				PaymentID: paymentID(1), Amount: usd("25.00"), AllocatedAt: t0}}},
		{name: "allocate again to the same customer: nothing", history: allocated,
			cmd: domain.AllocateReceipt{CustomerID: alice, PaymentID: paymentID(1)}},
		{name: "allocate to another customer", history: allocated,
			cmd: domain.AllocateReceipt{CustomerID: customerID(2), PaymentID: paymentID(2)}, wantErr: new(*domain.ReceiptAllocatedError)},
		{name: "allocate an unknown receipt", cmd: domain.AllocateReceipt{CustomerID: alice, PaymentID: paymentID(1)},
			wantErr: new(*domain.NotFoundError)},
		{name: "allocate without a customer", history: recorded, cmd: domain.AllocateReceipt{PaymentID: paymentID(1)},
			wantErr: new(*domain.InvalidValueError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := domain.DecideReceipt(must(domain.FoldReceipt(tt.history)), tt.cmd, t0)
			if tt.wantErr != nil {
				require.ErrorAs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestReceiptAllocatedErrorIsRejected(t *testing.T) {
	err := error(&domain.ReceiptAllocatedError{Receipt: receiptID(1), Customer: alice})
	assert.True(t, errors.Is(err, domain.ErrRejected))
}

// The two steps of an unallocated receipt move the money from cash to unallocated receipts,
// then from unallocated receipts to the customer: afterwards 2300 is empty and the customer's
// receivable and credit are what a cash payment would have made them.
func TestUnallocatedReceiptPostings(t *testing.T) {
	recorded := must(domain.DecideReceipt(domain.ReceiptState{}, unallocatedReceipt(1, "100.00"), t0))
	account := history(steps(registered(), invoiceIssuedOn(1, "2026-01-02", lineIn(1, "Fiber", "79.99")))...)
	pay := recordPayment(5, "100.00")
	pay.Receipt = receiptID(1)
	paid := must(domain.DecideAccount(must(domain.FoldAccount(account)), pay, t0))
	require.Len(t, paid, 1)

	var ledger, cash domain.LedgerTotals
	for _, e := range append(append(recorded, account...), paid...) {
		entry, ok, err := domain.Postings(e)
		require.NoError(t, err)
		if ok {
			ledger.Post(entry)
		}
	}
	for _, e := range append(append([]domain.Event{}, account...), must(domain.DecideAccount(must(domain.FoldAccount(account)), recordPayment(5, "100.00"), t0))...) {
		if entry, ok, _ := domain.Postings(e); ok {
			cash.Post(entry)
		}
	}
	for _, code := range domain.ChartOfAccounts() {
		assert.True(t, cash.Balance(code, usdCurrency).Equal(ledger.Balance(code, usdCurrency)), "account %s: cash payment %s, allocated receipt %s",
			code, cash.Balance(code, usdCurrency), ledger.Balance(code, usdCurrency))
	}
	assert.True(t, ledger.Balance(domain.AccountUnallocated, usdCurrency).IsZero())
	assert.True(t, ledger.Net(usdCurrency).IsZero())

	before, ok, err := domain.Postings(recorded[0])
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, []domain.JournalLine{domain.Debit(domain.AccountCash, usd("100.00")), domain.Credit(domain.AccountUnallocated, usd("100.00"))}, before.Lines())
	assert.True(t, before.Customer().IsZero())
	after, _, err := domain.Postings(paid[0])
	require.NoError(t, err)
	assert.Equal(t, domain.Debit(domain.AccountUnallocated, usd("100.00")), after.Lines()[0])
}
