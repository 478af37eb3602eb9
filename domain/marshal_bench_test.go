package domain_test

import (
	"encoding/json"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// BenchmarkMarshalPaymentRecorded encodes the event the command side writes most, with two
// allocations, as the event codec does (encoding/json over the domain's marshalers).
func BenchmarkMarshalPaymentRecorded(b *testing.B) {
	e := domain.PaymentRecorded{
		CustomerID: customerID(1), PaymentID: paymentID(1), Amount: usd("120.00"),
		Method: must(domain.ParsePaymentMethod("card")), ExternalReference: "bench-0f4c6f0e-8f0e-4f51-9b9a-0d4f0f6b1a11",
		ReceivedAt:  at("2026-03-02"),
		Allocations: []domain.Allocation{{InvoiceID: invoiceID(1), Amount: usd("100.00")}, {InvoiceID: invoiceID(2), Amount: usd("20.00")}},
		Unapplied:   usd("0.00"), RecordedAt: at("2026-03-02"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(e); err != nil {
			b.Fatal(err)
		}
	}
}
