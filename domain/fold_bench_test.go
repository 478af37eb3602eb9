package domain_test

import (
	"fmt"
	"testing"

	"github.com/dotmac/ledger/domain"
)

// paymentsHistory is Alice registered, then n payments of 1.00 that become customer credit.
func paymentsHistory(n int) []domain.Event {
	events := history(registered()...)
	first := must(domain.DecideAccount(must(domain.FoldAccount(events)), domain.RecordPayment{
		PaymentID: paymentID(0), Amount: usd("1.00"), Method: domain.PaymentMethodCard, ReceivedAt: at("2026-01-02"),
	}, at("2026-01-02")))
	for i := range n {
		p := eventAs[domain.PaymentRecorded](first[0])
		p.PaymentID, p.ExternalReference = paymentID(i+1), fmt.Sprintf("ref-%d", i)
		events = append(events, p)
	}
	return events
}

// BenchmarkFoldAccountPayments folds a customer with n payments: O(n) since an apply chain
// writes its own copy of a map in place (it was O(n²), a copy of the map per payment).
func BenchmarkFoldAccountPayments(b *testing.B) {
	for _, n := range []int{100, 1_000, 10_000} {
		events := paymentsHistory(n)
		b.Run(fmt.Sprintf("payments=%d", n), func(b *testing.B) {
			for b.Loop() {
				a := must(domain.FoldAccount(events))
				if a.PaymentCount() != n {
					b.Fatalf("%d payments, want %d", a.PaymentCount(), n)
				}
			}
		})
	}
}

// BenchmarkFoldBillingRun folds a billing run that invoiced n customers.
func BenchmarkFoldBillingRun(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		events := []domain.Event{domain.BillingRunStarted{BillingRunID: billingRunID(1), Period: period("2026-02"), StartedAt: at("2026-02-01")}}
		for i := range n {
			events = append(events, domain.BillingRunCustomerInvoiced{BillingRunID: billingRunID(1), CustomerID: customerID(1000 + i), InvoiceID: invoiceID(1000 + i)})
		}
		b.Run(fmt.Sprintf("customers=%d", n), func(b *testing.B) {
			for b.Loop() {
				r := must(domain.FoldBillingRun(events))
				if len(r.Invoiced) != n {
					b.Fatalf("%d invoiced, want %d", len(r.Invoiced), n)
				}
			}
		})
	}
}

// BenchmarkHotAccountBatch decides and applies batches of 8 payments on a customer holding n
// payments, as a stream's leader does under many clients: with an AccountApplier per batch
// (the state is shared, so each batch copies the account's maps: O(n)) and with one
// AccountOwner kept across batches (each batch writes in place and commits: O(batch); its
// first batch, which copies the maps, runs before the timer). Each payment carries a
// reference, which RecordPayment checks through the account's index.
func BenchmarkHotAccountBatch(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		base := must(domain.FoldAccount(paymentsHistory(n)))
		for _, chain := range []string{"applier", "owner"} {
			b.Run(fmt.Sprintf("payments=%d/%s", n, chain), func(b *testing.B) {
				b.ReportAllocs()
				next := n + 1
				if chain == "applier" {
					for b.Loop() {
						var applier domain.AccountApplier
						hotBatch(base, applier.Apply, &next)
					}
					return
				}
				var owner domain.AccountOwner
				state := hotBatch(base, owner.Apply, &next)
				owner.Commit()
				for b.Loop() {
					state = hotBatch(state, owner.Apply, &next) // the stream's leader keeps its state
					owner.Commit()
				}
			})
		}
	}
}

// hotBatch decides and applies 8 payments on s with apply; *next numbers them.
func hotBatch(s domain.AccountState, apply func(domain.AccountState, ...domain.Event) (domain.AccountState, error), next *int) domain.AccountState {
	for range 8 {
		*next++
		events := must(domain.DecideAccount(s, domain.RecordPayment{
			PaymentID: paymentID(*next), Amount: usd("1.00"), Method: domain.PaymentMethodCard,
			ExternalReference: fmt.Sprintf("ref-%d", *next), ReceivedAt: at("2026-01-03"),
		}, at("2026-01-03")))
		s = must(apply(s, events...))
	}
	return s
}
